package guards

import (
	"strings"
	"testing"
)

func TestBodyShape(t *testing.T) {
	body := []byte(`{"model":"claude-sonnet-4-5","stream":true,"messages":[` +
		`{"role":"user","content":"hello there"},` +
		`{"role":"user","content":[{"type":"tool_result","content":"` + strings.Repeat("r", 400) + `"},{"type":"text","text":"é"}]},` +
		`{"role":"tool","content":"x"}]}`)
	s := BodyShape(body, "summary", 0)
	if s["model"] != "claude-sonnet-4-5" || s["streaming"] != true || s["message_count"] != 3 || s["tool_result_count"] != 2 || len(s["body_sha256"].(string)) != 16 {
		t.Fatalf("%v", s)
	}
	sizes := s["message_sizes"].([]map[string]any)
	if sizes[0]["chars"] != 11 || sizes[0]["estimated_tokens"] != 3 || sizes[1]["content_type"] != "text,tool_result" || sizes[1]["chars"] != 401 ||
		sizes[1]["bytes"] != 402 || sizes[1]["tool_blocks"] != 1 || sizes[0]["content_preview"] != nil {
		t.Fatalf("%v", sizes)
	}
	if _, ok := s["body_full"]; ok {
		t.Fatal("summary carries the body")
	}
	r := BodyShape(body, "redacted", 0)
	if p := r["message_sizes"].([]map[string]any)[0]["content_preview"]; p != "hello there" {
		t.Fatalf("preview %v", p)
	}
	if f := BodyShape(body, "full", 10)["body_full"]; f != string(body[:10]) {
		t.Fatalf("full %v", f)
	}
	if BodyShape([]byte("nope"), "summary", 0)["parse_error"] != true {
		t.Fatal("no parse_error")
	}
	for in, want := range map[string]string{"": "", "false": "", "true": "summary", "1": "summary", "summary": "summary", "redacted": "redacted", "full": "full", "bogus": ""} {
		if got := CaptureMode(in); got != want {
			t.Errorf("CaptureMode(%q) = %q", in, got)
		}
	}
}
