package otel

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// SchemaCheck applies the original's schemas/otel-span.schema.json to one
// decoded line: its required fields, types and patterns, as data.
func SchemaCheck(t *testing.T, line []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, line)
	}
	patterns := map[string]string{
		"_schema":   `^otel-span/v\d+\.\d+\.\d+(-\w+)?$`,
		"timestamp": `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`,
		"event":     `^otel_span$`,
		"traceId":   `^[0-9a-f]{32}$`,
		"spanId":    `^[0-9a-f]{16}$`,
		"name":      `.`,
	}
	for k, p := range patterns {
		s, ok := m[k].(string)
		if !ok || !regexp.MustCompile(p).MatchString(s) {
			t.Errorf("%s = %#v, want /%s/", k, m[k], p)
		}
	}
	for _, k := range []string{"kind", "startTimeMs", "endTimeMs"} {
		if _, ok := m[k].(float64); !ok {
			t.Errorf("%s = %#v, want a number", k, m[k])
		}
	}
	if v, ok := m["parentSpanId"]; ok && v != nil {
		if _, ok := v.(string); !ok {
			t.Errorf("parentSpanId = %#v", v)
		}
	}
	if _, ok := m["attributes"].(map[string]any); !ok {
		t.Errorf("attributes = %#v", m["attributes"])
	}
	if _, ok := m["events"].([]any); !ok {
		t.Errorf("events = %#v", m["events"])
	}
	if _, ok := m["status"].(map[string]any); !ok {
		t.Errorf("status = %#v", m["status"])
	}
	return m
}

func readLines(t *testing.T, p string) [][]byte {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

func TestSpansInTheOriginalShape(t *testing.T) {
	cases := []struct {
		name      string
		parent    Parent
		status    int
		tokens    Tokens
		stream    bool
		wantCode  float64
		wantUsage bool
	}{
		{"ok with usage, workflow parent", Parent{"0123456789abcdef0123456789abcdef", "0123456789abcdef"}, 200,
			Tokens{Found: true, Model: "claude-test-1", Input: 120, Output: 30, CacheRead: 500, CacheWrite: 40}, true, StatusOK, true},
		{"upstream error, own trace", Parent{}, 502, Tokens{}, false, StatusError, false},
		{"redirect unset", Parent{}, 304, Tokens{}, false, StatusUnset, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := Open(dir, tc.parent)
			if err != nil {
				t.Fatal(err)
			}
			w.Start("anthropic", "POST", "/v1/messages", "req-1").End(tc.status, tc.stream, tc.tokens)
			w.Close()
			lines := readLines(t, filepath.Join(dir, FileName))
			if len(lines) != 1 {
				t.Fatalf("%d lines", len(lines))
			}
			m := SchemaCheck(t, lines[0])
			a := m["attributes"].(map[string]any)
			if m["name"] != "api_proxy.anthropic.request" || m["kind"] != float64(KindClient) ||
				a["gen_ai.provider.name"] != "anthropic" || a["awf.request_id"] != "req-1" || a["http.response.status_code"] != float64(tc.status) ||
				a["gen_ai.request.stream"] != tc.stream || a["url.path"] != "/v1/messages" || a["http.request.method"] != "POST" {
				t.Errorf("record: %s", lines[0])
			}
			if st := m["status"].(map[string]any); st["code"] != tc.wantCode {
				t.Errorf("status %v", st)
			}
			if tc.parent.TraceID != "" && (m["traceId"] != tc.parent.TraceID || m["parentSpanId"] != tc.parent.SpanID) {
				t.Errorf("not a child of the workflow span: %s", lines[0])
			}
			if tc.parent.TraceID == "" && m["parentSpanId"] != nil {
				t.Errorf("parent without a workflow trace: %s", lines[0])
			}
			evs := m["events"].([]any)
			if tc.wantUsage {
				if a["gen_ai.usage.input_tokens"] != float64(120) || a["gen_ai.usage.output_tokens"] != float64(30) ||
					a["awf.cached_read"] != "500" || a["awf.cached_write"] != "40" || a["gen_ai.response.model"] != "claude-test-1" || len(evs) != 1 {
					t.Errorf("usage: %s", lines[0])
				}
			} else if len(evs) != 0 || a["gen_ai.usage.input_tokens"] != nil {
				t.Errorf("usage without usage: %s", lines[0])
			}
		})
	}
}

func TestParentNeedsBothValidIDs(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		tr, sp string
		ok     bool
	}{
		{"0123456789abcdef0123456789abcdef", "0123456789abcdef", true},
		{"0123456789ABCDEF0123456789abcdef", "0123456789abcdef", false},
		{"0123456789abcdef0123456789abcdef", "", false},
		{"", "0123456789abcdef", false},
	} {
		p := ParentFromEnv(env(map[string]string{"GITHUB_AW_OTEL_TRACE_ID": tc.tr, "GITHUB_AW_OTEL_PARENT_SPAN_ID": tc.sp}))
		if (p.TraceID != "") != tc.ok {
			t.Errorf("%q %q: %+v", tc.tr, tc.sp, p)
		}
	}
}

func TestOpenRefusesASymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(target, []byte("keep"), 0o644)
	os.Symlink(target, filepath.Join(dir, FileName))
	if _, err := Open(dir, Parent{}); err == nil {
		t.Fatal("followed a planted symlink")
	}
}
