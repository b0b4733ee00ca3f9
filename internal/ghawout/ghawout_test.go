package ghawout

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/apireflect"
)

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

func doc() map[string]any {
	return apireflect.Document([]apireflect.Provider{{Name: "anthropic", Port: 10001, Configured: true}, {Name: "copilot", Port: 10002}}, nil)
}

// gh-aw's layout: --proxy-logs-dir /tmp/gh-aw/sandbox/firewall/logs,
// --audit-dir /tmp/gh-aw/sandbox/firewall/audit.
func layout(t *testing.T) (root string, o *Outputs) {
	root = t.TempDir()
	fw := filepath.Join(root, "sandbox", "firewall")
	o = &Outputs{Env: map[string]string{"AWF_REFLECT_ENABLED": "1"}, ProxyLogsDir: filepath.Join(fw, "logs"),
		APIProxyDir: filepath.Join(fw, "logs", "api-proxy-logs"), AuditDir: filepath.Join(fw, "audit"), Reflect: doc}
	for _, d := range []string{o.APIProxyDir, o.AuditDir} {
		os.MkdirAll(d, 0o755)
	}
	return root, o
}

func TestReflectWrittenWhereGhAwReadsIt(t *testing.T) {
	root, o := layout(t)
	o.Finish(quiet())
	b, err := os.ReadFile(filepath.Join(root, "sandbox", "firewall", "awf-reflect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Endpoints []struct {
			Provider   string  `json:"provider"`
			Port       int     `json:"port"`
			BaseURL    string  `json:"base_url"`
			Configured bool    `json:"configured"`
			Models     *[]any  `json:"models"`
			ModelsURL  *string `json:"models_url"`
		} `json:"endpoints"`
		Complete *bool `json:"models_fetch_complete"`
	}
	if err := json.Unmarshal(b, &d); err != nil || len(d.Endpoints) != 2 || d.Complete == nil || !*d.Complete {
		t.Fatalf("%v: %s", err, b)
	}
	e := d.Endpoints[0]
	if e.Provider != "anthropic" || e.Port != 10001 || e.BaseURL != "http://api-proxy:10001" || !e.Configured ||
		e.ModelsURL == nil || *e.ModelsURL != "http://api-proxy:10001/v1/models" || e.Models != nil {
		t.Errorf("endpoint %+v", e)
	}
	if fi, _ := os.Stat(filepath.Join(root, "sandbox", "firewall", "awf-reflect.json")); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
}

func TestReflectOnlyWhenAsked(t *testing.T) {
	for _, v := range []string{"", "0", "false"} {
		root, o := layout(t)
		o.Env["AWF_REFLECT_ENABLED"] = v
		o.Finish(quiet())
		if _, err := os.Stat(filepath.Join(root, "sandbox", "firewall", "awf-reflect.json")); err == nil {
			t.Errorf("AWF_REFLECT_ENABLED=%q wrote the file", v)
		}
	}
	if !ReflectEnabled(map[string]string{"AWF_REFLECT_ENABLED": "true"}) {
		t.Error("true")
	}
}

// The harness's own copy (with model lists) wins; a planted symlink is
// never followed, neither as the file nor as a directory on the way.
func TestReflectNeverOverwritesOrFollows(t *testing.T) {
	root, o := layout(t)
	p := filepath.Join(root, "sandbox", "firewall", "awf-reflect.json")
	os.WriteFile(p, []byte(`{"endpoints":[],"harness":true}`), 0o644)
	o.Finish(quiet())
	if b, _ := os.ReadFile(p); !strings.Contains(string(b), "harness") {
		t.Errorf("overwritten: %s", b)
	}

	root, o = layout(t)
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	os.Symlink(victim, filepath.Join(root, "sandbox", "firewall", "awf-reflect.json"))
	o.Finish(quiet())
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("followed the file symlink: %s", b)
	}

	root, o = layout(t)
	elsewhere := t.TempDir()
	fw := filepath.Join(root, "sandbox", "firewall")
	os.Rename(fw, filepath.Join(root, "sandbox", "moved"))
	os.Symlink(elsewhere, fw)
	o.Finish(quiet())
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Errorf("followed the directory symlink: %v", ents)
	}
}

func TestTokenUsageCopiedToAuditOncePerRun(t *testing.T) {
	_, o := layout(t)
	src := filepath.Join(o.APIProxyDir, TokenFile)
	os.WriteFile(src, []byte(`{"request_id":"old"}`+"\n"), 0o644) // an earlier run's record
	o.Begin()
	f, _ := os.OpenFile(src, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"request_id":"new"}` + "\n")
	f.Close()
	o.Finish(quiet())
	b, err := os.ReadFile(filepath.Join(o.AuditDir, "api-proxy-logs", TokenFile))
	if err != nil || string(b) != `{"request_id":"new"}`+"\n" {
		t.Fatalf("%v: %q", err, b)
	}

	// No records this run: nothing to copy, no file.
	_, o = layout(t)
	o.Finish(quiet())
	if _, err := os.Stat(filepath.Join(o.AuditDir, "api-proxy-logs", TokenFile)); err == nil {
		t.Error("empty copy made")
	}

	// A symlink planted as the audit copy's directory is not followed.
	_, o = layout(t)
	os.WriteFile(filepath.Join(o.APIProxyDir, TokenFile), []byte(`{"request_id":"x"}`+"\n"), 0o644)
	elsewhere := t.TempDir()
	os.Symlink(elsewhere, filepath.Join(o.AuditDir, "api-proxy-logs"))
	o.Finish(quiet())
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Errorf("followed: %v", ents)
	}
}
