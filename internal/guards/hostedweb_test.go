package guards

import (
	"reflect"
	"strings"
	"testing"
)

// TestHostedWebShapes: with an engine's hosted web disabled, every
// provider shape that asks for a hosted web tool is refused on that
// engine's port (403 hosted_web_disabled), and a tool that merely has a
// similar name, another engine's shape, or the engine enabled/absent
// passes.
func TestHostedWebShapes(t *testing.T) {
	const (
		anthSearch = `{"model":"claude-sonnet-4-5","max_tokens":9,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":3}],"messages":[]}`
		anthFetch  = `{"model":"claude-sonnet-4-5","tools":[{"name":"bash","input_schema":{}},{"type":"web_fetch_20250910","name":"web_fetch"}],"messages":[]}`
		anthCustom = `{"model":"claude-sonnet-4-5","tools":[{"name":"web_search","description":"mine","input_schema":{"type":"object"}},{"type":"custom","name":"web_fetch","input_schema":{}}],"messages":[]}`
		respSearch = `{"model":"gpt-5","input":"hi","tools":[{"type":"web_search"}]}`
		respPrev   = `{"model":"gpt-5","input":"hi","tools":[{"type":"function","name":"f","parameters":{}},{"type":"web_search_preview"}]}`
		respDated  = `{"model":"gpt-5","input":"hi","tools":[{"type":"web_search_preview_2025_03_11","search_context_size":"low"}]}`
		respFunc   = `{"model":"gpt-5","input":"hi","tools":[{"type":"function","name":"web_search","parameters":{}}]}`
		chatOpts   = `{"model":"gpt-4o-search-preview","web_search_options":{},"messages":[]}`
		chatNull   = `{"model":"gpt-4o","web_search_options":null,"messages":[]}`
		chatFunc   = `{"model":"gpt-4o","tools":[{"type":"function","function":{"name":"web_search","parameters":{}}}],"messages":[]}`
		gemSearch  = `{"contents":[],"tools":[{"googleSearch":{}}]}`
		gemSnake   = `{"contents":[],"tools":[{"google_search":{}}]}`
		gemRetr    = `{"contents":[],"tools":[{"googleSearchRetrieval":{"dynamicRetrievalConfig":{}}}]}`
		gemURL     = `{"contents":[],"tools":[{"functionDeclarations":[]},{"url_context":{}}]}`
		gemURL2    = `{"contents":[],"tools":[{"urlContext":{}}]}`
		gemFunc    = `{"contents":[],"tools":[{"functionDeclarations":[{"name":"googleSearch","parameters":{}}]}]}`
		nested     = `{"model":"m","messages":[{"role":"user","content":"{\"tools\":[{\"type\":\"web_search\"}]}"}],"metadata":{"tools":[{"type":"web_search_20250305"}]}}`
		dupTools   = `{"model":"gpt-5","tools":[{"type":"web_search"}],"input":"x","tools":[]}`
		escKey     = `{"model":"gpt-5","t\u006fols":[{"type":"web_search"}]}`
	)
	off := func(e ...string) HostedWebOff {
		m := HostedWebOff{}
		for _, x := range e {
			m[x] = true
		}
		return m
	}
	for _, tt := range []struct {
		name     string
		off      HostedWebOff
		provider string
		body     string
		want     []string // nil: admitted
	}{
		{"claude web_search", off("claude"), "anthropic", anthSearch, []string{"web_search_20250305"}},
		{"claude web_fetch", off("claude"), "anthropic", anthFetch, []string{"web_fetch_20250910"}},
		{"claude custom tools named web_*", off("claude"), "anthropic", anthCustom, nil},
		{"claude enabled", nil, "anthropic", anthSearch, nil},
		{"claude off, other port", off("claude"), "openai", anthSearch, nil},
		{"codex responses web_search", off("codex"), "openai", respSearch, []string{"web_search"}},
		{"openai responses preview", off("openai"), "openai", respPrev, []string{"web_search_preview"}},
		{"codex dated preview", off("codex"), "openai", respDated, []string{"web_search_preview_2025_03_11"}},
		{"codex function named web_search", off("codex"), "openai", respFunc, nil},
		{"codex chat web_search_options", off("codex"), "openai", chatOpts, []string{"web_search_options"}},
		{"codex chat web_search_options null", off("codex"), "openai", chatNull, nil},
		{"codex chat function named web_search", off("codex"), "openai", chatFunc, nil},
		{"codex off, web_fetch_ on openai port", off("codex"), "openai", anthFetch, nil},
		{"codex off, any web_search_ type", off("codex"), "openai", anthSearch, []string{"web_search_20250305"}},
		{"codex off, gemini port", off("codex"), "gemini", gemSearch, nil},
		{"gemini googleSearch", off("gemini"), "gemini", gemSearch, []string{"googleSearch"}},
		{"gemini google_search", off("gemini"), "gemini", gemSnake, []string{"google_search"}},
		{"gemini retrieval", off("gemini"), "gemini", gemRetr, []string{"googleSearchRetrieval"}},
		{"gemini url_context", off("gemini"), "gemini", gemURL, []string{"url_context"}},
		{"gemini urlContext on vertex", off("gemini"), "vertex", gemURL2, []string{"urlContext"}},
		{"gemini function named googleSearch", off("gemini"), "gemini", gemFunc, nil},
		{"gemini enabled", nil, "gemini", gemSearch, nil},
		{"copilot openai shape", off("copilot"), "copilot", respSearch, []string{"web_search"}},
		{"copilot chat options", off("copilot"), "copilot", chatOpts, []string{"web_search_options"}},
		{"copilot anthropic shape", off("copilot"), "copilot", anthFetch, []string{"web_fetch_20250910"}},
		{"copilot gemini shape ignored", off("copilot"), "copilot", gemSearch, nil},
		{"claude off, copilot port", off("claude"), "copilot", anthSearch, nil},
		{"not top level", off("codex", "claude"), "openai", nested, nil},
		{"duplicate tools key", off("codex"), "openai", dupTools, []string{"web_search"}},
		{"escaped key", off("codex"), "openai", escKey, []string{"web_search"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := New(Config{HostedWebOff: tt.off})
			scan := g.Config().ScanBody(tt.provider, []byte(tt.body))
			if !reflect.DeepEqual(scan.Hosted, tt.want) {
				t.Fatalf("hosted = %q, want %q", scan.Hosted, tt.want)
			}
			if strings.Contains(tt.body, `"model"`) && scan.Model == "" {
				t.Fatalf("model lost: %+v", scan)
			}
			_, d := g.Admit(Request{Provider: tt.provider, Method: "POST", Path: "/v1/messages", Model: scan.Model, Hosted: scan.Hosted})
			if d.Allow != (tt.want == nil) {
				t.Fatalf("allow = %v: %+v", d.Allow, d)
			}
			if d.Allow {
				return
			}
			e := d.Body["error"].(map[string]any)
			var engine string
			for k := range tt.off {
				engine = k
			}
			msg := "Provider-hosted web tools (" + tt.want[0] + ") are disabled for " + engine + " by apiProxy.hostedWeb." + engine +
				".enabled=false; use the firewall's allowlisted network instead"
			if d.Status != 403 || d.Rule != RuleHostedWeb || e["type"] != RuleHostedWeb || e["message"] != msg || e["engine"] != engine {
				t.Fatalf("refusal %d %s %v", d.Status, d.Rule, e)
			}
			if g.Snapshot().Blocked[RuleHostedWeb] != 1 {
				t.Fatalf("not counted: %v", g.Snapshot().Blocked)
			}
			if g.Snapshot().StoppedBy != nil {
				t.Fatal("a hosted web refusal must not stop the run")
			}
		})
	}
}

// TestHostedWebScanNeedsRule: without a rule the scan reads only the
// model (no tools decoding on the hot path).
func TestHostedWebScanNeedsRule(t *testing.T) {
	c := Config{}
	s := c.ScanBody("openai", []byte(`{"model":"a","tools":[{"type":"web_search"}],"model":"b"}`))
	if s.Hosted != nil || s.Model != "b" || !reflect.DeepEqual(s.AllModels, []string{"a", "b"}) {
		t.Fatalf("%+v", s)
	}
	if c.HostedWebActive("openai") || c.Active() {
		t.Fatal("active without a rule")
	}
}

// TestHostedWebInMessage: a Responses WebSocket response.create asks for
// tools at its top level or inside "response".
func TestHostedWebInMessage(t *testing.T) {
	c := Config{HostedWebOff: HostedWebOff{"codex": true}}
	for msg, want := range map[string]int{
		`{"type":"response.create","model":"gpt-5","tools":[{"type":"web_search"}]}`:                   1,
		`{"type":"response.create","response":{"model":"gpt-5","tools":[{"type":"web_search"}]}}`:      1,
		`{"type":"response.create","model":"gpt-5","tools":[{"type":"function","name":"web_search"}]}`: 0,
	} {
		if got := c.HostedInMessage("openai", []byte(msg)); len(got) != want {
			t.Errorf("%s: %q", msg, got)
		}
	}
}

func TestParseHostedWeb(t *testing.T) {
	for _, tt := range []struct {
		in      string
		off     HostedWebOff
		unknown []string
		err     bool
	}{
		{`{"claude":{"enabled":false}}`, HostedWebOff{"claude": true}, nil, false},
		{`{"claude":{"enabled":true},"codex":{}}`, nil, nil, false},
		{`{"claude":{"enabled":false},"gemini":{"enabled":false},"grok":{"enabled":false},"aider":{}}`, HostedWebOff{"claude": true, "gemini": true}, []string{"aider", "grok"}, false},
		{`[]`, nil, nil, true},
		{`{"claude":{"enabled":"no"}}`, nil, nil, true},
	} {
		off, unknown, err := ParseHostedWeb(tt.in)
		if (err != nil) != tt.err || !reflect.DeepEqual(off, tt.off) || !reflect.DeepEqual(unknown, tt.unknown) {
			t.Errorf("%s: %v %v %v", tt.in, off, unknown, err)
		}
	}
	c, warns := FromEnv(func(k string) string {
		if k == EnvHostedWeb {
			return `{"claude":{"enabled":false},"grok":{"enabled":false}}`
		}
		return ""
	})
	if !c.HostedWebOff["claude"] || len(warns) != 1 || !strings.Contains(warns[0], `unknown engine "grok"`) {
		t.Fatalf("%v %v", c.HostedWebOff, warns)
	}
}
