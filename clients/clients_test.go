package clients

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func sdkCases() []clientCase {
	var cs []clientCase
	for _, m := range []struct {
		mode, gen string
		stream    bool
	}{{"chat", "/chat/completions", false}, {"chat-stream", "/chat/completions", true},
		{"responses", "/responses", false}, {"responses-stream", "/responses", true}, {"responses-ws", "/responses", true}} {
		cs = append(cs, clientCase{name: "openai-sdk/" + m.mode, prov: openAI, stream: m.stream, wantGen: m.gen,
			wantWS: m.mode == "responses-ws", cmd: "node sdk/openai.mjs " + m.mode})
	}
	for _, m := range []struct {
		mode, gen string
		stream    bool
	}{{"messages", "/v1/messages", false}, {"messages-stream", "/v1/messages", true}, {"count-tokens", "/v1/messages/count_tokens", false}} {
		cs = append(cs, clientCase{name: "anthropic-sdk/" + m.mode, prov: anthropic, stream: m.stream, wantGen: m.gen,
			cmd: "node sdk/anthropic.mjs " + m.mode})
	}
	for _, m := range []struct {
		mode, gen string
		stream    bool
	}{{"generate", ":generateContent", false}, {"generate-stream", ":streamGenerateContent", true}, {"count-tokens", ":countTokens", false}} {
		cs = append(cs, clientCase{name: "genai-sdk/" + m.mode, prov: gemini, stream: m.stream, wantGen: m.gen,
			cmd: "node sdk/genai.mjs " + m.mode})
	}
	return cs
}

func TestSDKs(t *testing.T) {
	requireClients(t)
	for _, c := range sdkCases() {
		t.Run(c.name, func(t *testing.T) {
			r := runClient(t, c)
			r.check(t, c)
			if m := regexp.MustCompile(`(?m)^AWF_KEY_SEEN=(.*)$`).FindStringSubmatch(r.stdout); m == nil || !slices.Contains(placeholders, m[1]) {
				t.Errorf("the SDK did not report holding a placeholder: %q", m)
			}
		})
	}
}

// check makes the assertions every client run shares.
func (r *run) check(t *testing.T, c clientCase) {
	t.Helper()
	if strings.Contains(r.stdout+r.stderr, r.key) {
		t.Errorf("the real key reached the sandbox's output")
	}
	// The CLIs all keep state in the home: seeing none would mean the scan
	// looked in the wrong place.
	if strings.HasPrefix(c.name, "cli/") && r.homeFiles == 0 {
		t.Errorf("the client left no files in its home: the key scan saw nothing")
	}
	if len(r.keyInHome) > 0 {
		t.Errorf("the real key is in files the client wrote: %v", r.keyInHome)
	}
	if r.code != 0 || !strings.Contains(r.stdout, "AWF_CLIENT_EXIT=0") {
		t.Errorf("client failed: awf exit %d, %s", r.code, lastLines(r.stdout+r.stderr, 15))
	}
	if !strings.Contains(r.stdout, r.fake.Reply.Text) {
		t.Errorf("the fake's answer %q is not in the client's output", r.fake.Reply.Text)
	}
	for _, m := range regexp.MustCompile(`(?m)^AWF_ENV (\w+)=(.*)$`).FindAllStringSubmatch(r.stdout, -1) {
		if m[2] != "<unset>" && !slices.Contains(placeholders, m[2]) {
			t.Errorf("the sandbox held %s=%q, not a placeholder", m[1], m[2])
		}
	}
	reqs := r.fake.Requests()
	if len(r.fake.Find(c.wantGen)) == 0 {
		t.Errorf("the upstream received no %s request; it got:\n%s", c.wantGen, r.fake.Summary())
	}
	for _, q := range reqs {
		if got := c.prov.credential(q.Header); got != r.key {
			t.Errorf("%s: upstream credential %q is not the real key", q, got)
		}
		for _, h := range c.prov.injected {
			if q.Header.Get(h) == "" {
				t.Errorf("%s: injected header %s missing", q, h)
			}
		}
		for k, vs := range q.Header {
			if strings.HasPrefix(k, "X-Forwarded-") || k == "Via" || k == "Forwarded" {
				t.Errorf("%s: header %s reached the upstream", q, k)
			}
			for _, v := range vs {
				for _, p := range placeholders {
					if strings.Contains(v, p) {
						t.Errorf("%s: placeholder reached the upstream in %s", q, k)
					}
				}
			}
		}
	}
	r.checkUsage(t, c)
	if c.wantWS {
		ws := false
		for _, q := range reqs {
			ws = ws || (q.WebSocket && len(q.Frames) > 0)
		}
		metered := slices.ContainsFunc(r.usage, func(u map[string]any) bool { return u["transport"] == "websocket" })
		if !ws || !metered {
			t.Errorf("no WebSocket turn (upstream saw one: %v; usage record: %v)", ws, metered)
		}
	}
	if !strings.Contains(r.stdout, "AWF_DENIED proxied connect=403") {
		t.Errorf("a non-listed host was not denied by the proxy: %s", grepLines(r.stdout, "AWF_DENIED"))
	}
	if !regexp.MustCompile(`(?m)^.* ` + regexp.QuoteMeta(r.decoyHost) + `:443 .* 403 TCP_DENIED`).MatchString(r.access) {
		t.Errorf("the egress log has no denial of %s:\n%s", r.decoyHost, lastLines(r.access, 10))
	}
	if strings.Contains(r.stdout, "AWF_DENIED direct http=200") || r.decoy.hits() != 0 {
		t.Errorf("a non-listed host was reached (%d hits): %s", r.decoy.hits(), grepLines(r.stdout, "AWF_DENIED"))
	}
}

func (r *run) checkUsage(t *testing.T, c clientCase) {
	t.Helper()
	if c.wantGen == "/v1/messages/count_tokens" || c.wantGen == ":countTokens" {
		c.wantGen = map[string]string{"anthropic": "/v1/messages", "gemini": ":generateContent"}[c.prov.name]
	}
	want := r.fake.Reply
	for _, u := range r.usage {
		path, _ := u["path"].(string)
		in, _ := u["input_tokens"].(float64)
		out, _ := u["output_tokens"].(float64)
		if u["provider"] == c.prov.name && strings.Contains(path, c.wantGen) && int(out) == want.OutputTokens &&
			(int(in) == want.InputTokens || int(in) == want.InputTokens-want.CachedTokens) {
			if st, _ := u["streaming"].(bool); st != c.stream {
				t.Errorf("usage record streaming=%v, want %v", st, c.stream)
			}
			return
		}
	}
	t.Errorf("no token-usage record of %d in / %d out for %s %s; records: %v", want.InputTokens, want.OutputTokens, c.prov.name, c.wantGen, r.usage)
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return "\n" + strings.Join(l, "\n")
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return fmt.Sprint(out)
}

// The Gemini CLI takes GOOGLE_GEMINI_BASE_URL as auth type "gateway",
// which its own non-interactive check then rejects ("Invalid auth method
// selected."). Selecting gemini-api-key in a settings file keeps the base
// URL. Here it goes in the user's settings; awf should rather write a
// root-owned file under /.awf and point GEMINI_CLI_SYSTEM_DEFAULTS_PATH at
// it (the CLI skips a defaults file whose directory is not root's).
