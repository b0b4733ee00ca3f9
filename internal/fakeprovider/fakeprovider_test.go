package fakeprovider

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

var testReply = Reply{Text: "one two three four", InputTokens: 31, OutputTokens: 7, CachedTokens: 4}

func serve(t *testing.T, f *Fake) string {
	t.Helper()
	s := httptest.NewServer(f)
	t.Cleanup(s.Close)
	return s.URL
}

func post(t *testing.T, url, body string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func decodeBody(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return m
}

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	name string
	data string
}

func readSSE(t *testing.T, resp *http.Response) []sseEvent {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case line == "":
			if cur.data != "" {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
	return out
}

// path reads a nested value: path(m, "usage", "prompt_tokens").
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func num(v any) int { f, _ := v.(float64); return int(f) }

func TestChunksJoinToText(t *testing.T) {
	for _, text := range []string{"a", "one two", "trailing space ", "  lead", "x  y"} {
		r := Reply{Text: text}
		if got := strings.Join(r.chunks(), ""); got != text {
			t.Errorf("%q: chunks join to %q", text, got)
		}
	}
	if n := len(testReply.chunks()); n != 4 {
		t.Errorf("want 4 chunks, got %d", n)
	}
}

func TestRecorderKeepsWhatArrived(t *testing.T) {
	f := NewOpenAI(testReply)
	url := serve(t, f)
	post(t, url+"/v1/chat/completions?x=1", `{"model":"m"}`, "Authorization", "Bearer k1", "X-Custom", "v")
	http.Get(url + "/nowhere")
	reqs := f.Requests()
	if len(reqs) != 2 {
		t.Fatalf("recorded %d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v1/chat/completions" || r.Query != "x=1" || string(r.Body) != `{"model":"m"}` ||
		r.Header.Get("Authorization") != "Bearer k1" || r.Header.Get("X-Custom") != "v" || r.Status != 200 {
		t.Errorf("recorded %+v", r)
	}
	if reqs[1].Status != http.StatusNotFound {
		t.Errorf("unknown path answered %d", reqs[1].Status)
	}
	if got := f.Find("/chat/completions"); len(got) != 1 {
		t.Errorf("Find found %d", len(got))
	}
	if !strings.Contains(f.Summary(), "POST /v1/chat/completions?x=1 -> 200") {
		t.Errorf("summary %q", f.Summary())
	}
}

func TestOpenAIChat(t *testing.T) {
	for _, prefix := range []string{"/v1", ""} {
		url := serve(t, NewOpenAI(testReply)) + prefix
		m := decodeBody(t, post(t, url+"/chat/completions", `{"model":"gpt-x","messages":[]}`))
		if path(m, "choices", 0, "message", "content") != testReply.Text || path(m, "model") != "gpt-x" ||
			num(path(m, "usage", "prompt_tokens")) != 31 || num(path(m, "usage", "completion_tokens")) != 7 ||
			num(path(m, "usage", "prompt_tokens_details", "cached_tokens")) != 4 {
			t.Errorf("%q: got %v", prefix, m)
		}
	}
}

func TestOpenAIChatStream(t *testing.T) {
	for _, tc := range []struct {
		name, body   string
		usageOwnLast bool
	}{
		{"include_usage", `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`, true},
		{"usage_in_last_choice", `{"model":"m","stream":true}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := readSSE(t, post(t, serve(t, NewCopilot(testReply))+"/chat/completions", tc.body))
			if len(evs) == 0 || evs[len(evs)-1].data != "[DONE]" {
				t.Fatalf("stream does not end with [DONE]: %v", evs)
			}
			var text string
			var usage, finish any
			var usageChoices int
			for _, e := range evs[:len(evs)-1] {
				var c map[string]any
				if err := json.Unmarshal([]byte(e.data), &c); err != nil {
					t.Fatal(err)
				}
				if s, ok := path(c, "choices", 0, "delta", "content").(string); ok {
					text += s
				}
				if f := path(c, "choices", 0, "finish_reason"); f != nil {
					finish = f
				}
				if u := c["usage"]; u != nil {
					usage, usageChoices = u, len(c["choices"].([]any))
				}
			}
			if text != testReply.Text || finish != "stop" || num(path(usage, "total_tokens")) != 38 {
				t.Errorf("text %q finish %v usage %v", text, finish, usage)
			}
			if (usageChoices == 0) != tc.usageOwnLast {
				t.Errorf("usage chunk has %d choices", usageChoices)
			}
		})
	}
}

func TestOpenAIResponses(t *testing.T) {
	url := serve(t, NewOpenAI(testReply))
	m := decodeBody(t, post(t, url+"/v1/responses", `{"model":"gpt-r","input":"hi"}`))
	if path(m, "status") != "completed" || path(m, "output", 0, "content", 0, "text") != testReply.Text ||
		num(path(m, "usage", "input_tokens")) != 31 || num(path(m, "usage", "output_tokens")) != 7 {
		t.Errorf("got %v", m)
	}
	evs := readSSE(t, post(t, url+"/v1/responses", `{"model":"gpt-r","input":"hi","stream":true}`))
	var text string
	for i, e := range evs {
		var ev map[string]any
		json.Unmarshal([]byte(e.data), &ev)
		if ev["type"] != e.name || num(ev["sequence_number"]) != i {
			t.Errorf("event %d: name %q type %v seq %v", i, e.name, ev["type"], ev["sequence_number"])
		}
		if e.name == "response.output_text.delta" {
			text += ev["delta"].(string)
		}
	}
	if evs[0].name != "response.created" || evs[len(evs)-1].name != "response.completed" || text != testReply.Text {
		t.Errorf("events %v, text %q", evs, text)
	}
	if !strings.Contains(evs[len(evs)-1].data, `"input_tokens":31`) {
		t.Errorf("completed event lacks usage: %s", evs[len(evs)-1].data)
	}
}

func TestOpenAIResponsesWebSocket(t *testing.T) {
	f := NewOpenAI(testReply)
	url := serve(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{"Authorization": {"Bearer wskey"}}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/v1/responses", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	big := strings.Repeat("x", 100_000) // larger than the default 32 KiB frame limit
	for turn, msg := range []string{`{"type":"response.create","model":"gpt-ws","input":[]}`,
		`{"type":"response.create","model":"gpt-ws","input":"` + big + `"}`} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		var text string
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("turn %d: %v", turn, err)
			}
			var ev map[string]any
			json.Unmarshal(b, &ev)
			if ev["type"] == "response.output_text.delta" {
				text += ev["delta"].(string)
			}
			if ev["type"] == "response.completed" {
				if path(ev, "response", "model") != "gpt-ws" || num(path(ev, "response", "usage", "output_tokens")) != 7 {
					t.Errorf("completed: %v", ev)
				}
				break
			}
		}
		if text != testReply.Text {
			t.Errorf("turn %d text %q", turn, text)
		}
	}
	c.Write(ctx, websocket.MessageText, []byte(`{"type":"bogus"}`))
	_, b, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(b), `"type":"error"`) {
		t.Errorf("bogus message answered %s, %v", b, err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	time.Sleep(50 * time.Millisecond)
	reqs := f.Find("/responses")
	if len(reqs) != 1 || !reqs[0].WebSocket || len(reqs[0].Frames) != 3 || reqs[0].Status != 101 ||
		reqs[0].Header.Get("Authorization") != "Bearer wskey" {
		t.Errorf("recorded %v", reqs)
	}
}

func TestModelLists(t *testing.T) {
	for _, tc := range []struct {
		f    *Fake
		path string
		key  string
	}{
		{NewOpenAI(Reply{}), "/v1/models", "data"},
		{NewCopilot(Reply{}), "/models", "data"},
		{NewAnthropic(Reply{}), "/v1/models", "data"},
		{NewGemini(Reply{}), "/v1beta/models", "models"},
	} {
		resp, err := http.Get(serve(t, tc.f) + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		m := decodeBody(t, resp)
		if l, _ := m[tc.key].([]any); len(l) != len(ModelIDs[tc.f.Name]) {
			t.Errorf("%s: %v", tc.f.Name, m)
		}
		resp.Body.Close()
	}
}

func TestAnthropicMessages(t *testing.T) {
	url := serve(t, NewAnthropic(testReply))
	m := decodeBody(t, post(t, url+"/v1/messages", `{"model":"claude-x","max_tokens":10,"messages":[]}`))
	if path(m, "content", 0, "text") != testReply.Text || path(m, "stop_reason") != "end_turn" ||
		num(path(m, "usage", "input_tokens")) != 31 || num(path(m, "usage", "cache_read_input_tokens")) != 4 {
		t.Errorf("got %v", m)
	}
	evs := readSSE(t, post(t, url+"/v1/messages?beta=true", `{"model":"claude-x","stream":true}`))
	var names []string
	var text string
	for _, e := range evs {
		names = append(names, e.name)
		var ev map[string]any
		json.Unmarshal([]byte(e.data), &ev)
		if ev["type"] != e.name {
			t.Errorf("event %q has type %v", e.name, ev["type"])
		}
		if s, ok := path(ev, "delta", "text").(string); ok {
			text += s
		}
		if e.name == "message_delta" && num(path(ev, "usage", "output_tokens")) != 7 {
			t.Errorf("message_delta usage: %s", e.data)
		}
	}
	want := "message_start content_block_start ping content_block_delta content_block_delta content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if strings.Join(names, " ") != want || text != testReply.Text {
		t.Errorf("events %v text %q", names, text)
	}
	if n := num(decodeBody(t, post(t, url+"/v1/messages/count_tokens", `{}`))["input_tokens"]); n != 31 {
		t.Errorf("count_tokens %d", n)
	}
	resp := post(t, url+"/v1/complete", `{}`)
	if e := decodeBody(t, resp); resp.StatusCode != 404 || path(e, "error", "type") != "not_found_error" {
		t.Errorf("unknown path: %d %v", resp.StatusCode, e)
	}
}

func TestGemini(t *testing.T) {
	url := serve(t, NewGemini(testReply)) + "/v1beta/models/gemini-x"
	m := decodeBody(t, post(t, url+":generateContent", `{"contents":[]}`))
	if path(m, "candidates", 0, "content", "parts", 0, "text") != testReply.Text || path(m, "candidates", 0, "finishReason") != "STOP" ||
		num(path(m, "usageMetadata", "promptTokenCount")) != 31 || num(path(m, "usageMetadata", "candidatesTokenCount")) != 7 {
		t.Errorf("got %v", m)
	}
	resp := post(t, url+":streamGenerateContent?alt=sse", `{"contents":[]}`)
	raw, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(raw), "\r\n\r\n") {
		t.Errorf("SSE events not CRLF-separated")
	}
	resp.Body = io.NopCloser(strings.NewReader(string(raw)))
	var text string
	evs := readSSE(t, resp)
	for i, e := range evs {
		var c map[string]any
		json.Unmarshal([]byte(e.data), &c)
		text += path(c, "candidates", 0, "content", "parts", 0, "text").(string)
		last := i == len(evs)-1
		if (path(c, "candidates", 0, "finishReason") == "STOP") != last {
			t.Errorf("chunk %d finishReason %v", i, path(c, "candidates", 0, "finishReason"))
		}
		if last && num(path(c, "usageMetadata", "candidatesTokenCount")) != 7 {
			t.Errorf("last chunk usage %v", c["usageMetadata"])
		}
	}
	if text != testReply.Text {
		t.Errorf("streamed text %q", text)
	}
	var arr []any
	if err := json.NewDecoder(post(t, url+":streamGenerateContent", `{}`).Body).Decode(&arr); err != nil || len(arr) != 4 {
		t.Errorf("non-SSE stream: %v %v", len(arr), err)
	}
	if n := num(decodeBody(t, post(t, url+":countTokens", `{}`))["totalTokens"]); n != 31 {
		t.Errorf("countTokens %d", n)
	}
	js := decodeBody(t, post(t, url+":generateContent", `{"generationConfig":{"responseMimeType":"application/json",
		"responseJsonSchema":{"type":"OBJECT","properties":{"why":{"type":"STRING"},"score":{"type":"INTEGER","minimum":3}}}}}`))
	var parsed map[string]any
	if err := json.Unmarshal([]byte(path(js, "candidates", 0, "content", "parts", 0, "text").(string)), &parsed); err != nil ||
		parsed["why"] != "fake" || num(parsed["score"]) != 3 {
		t.Errorf("structured answer %v (%v)", parsed, err)
	}
}

func TestFromSchema(t *testing.T) {
	for _, tc := range []struct{ schema, want string }{
		{`{"type":"string"}`, `"fake"`},
		{`{"type":"integer"}`, `1`},
		{`{"type":"number","minimum":2.5}`, `2.5`},
		{`{"type":"boolean"}`, `false`},
		{`{"enum":["b","a"]}`, `"b"`},
		{`{"type":["null","string"]}`, `null`},
		{`{"anyOf":[{"type":"integer"},{"type":"string"}]}`, `1`},
		{`{"type":"array","items":{"type":"string"}}`, `[]`},
		{`{"type":"array","items":{"type":"string"},"minItems":1}`, `["fake"]`},
		{`{"type":"OBJECT","properties":{"a":{"type":"STRING"},"b":{"type":"object","properties":{"c":{"type":"boolean"}}}}}`, `{"a":"fake","b":{"c":false}}`},
	} {
		var s map[string]any
		if err := json.Unmarshal([]byte(tc.schema), &s); err != nil {
			t.Fatal(err)
		}
		if got := structuredText(s); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.schema, got, tc.want)
		}
	}
	if structuredText(nil) != "{}" {
		t.Error("nil schema")
	}
}

func TestBadJSONIsRejected(t *testing.T) {
	for _, tc := range []struct {
		f    *Fake
		path string
	}{
		{NewOpenAI(Reply{}), "/v1/chat/completions"},
		{NewOpenAI(Reply{}), "/v1/responses"},
		{NewAnthropic(Reply{}), "/v1/messages"},
	} {
		if resp := post(t, serve(t, tc.f)+tc.path, `{not json`); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s %s: %d", tc.f.Name, tc.path, resp.StatusCode)
		}
	}
}

func TestDefaultReply(t *testing.T) {
	f := NewOpenAI(Reply{})
	if f.Reply != DefaultReply {
		t.Errorf("zero Reply became %+v", f.Reply)
	}
	if g := NewOpenAI(Reply{Text: "x", OutputTokens: 2}); g.Reply.Text != "x" || g.Reply.OutputTokens != 2 || g.Reply.InputTokens != 0 {
		t.Errorf("partial Reply became %+v", g.Reply)
	}
}

func TestNoWebSocketRefusesUpgrade(t *testing.T) {
	f := NewOpenAI(testReply)
	f.NoWebSocket = true
	url := serve(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/v1/responses", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	// The SSE path still works.
	if evs := readSSE(t, post(t, url+"/v1/responses", `{"stream":true}`)); len(evs) == 0 {
		t.Error("no SSE events")
	}
}
