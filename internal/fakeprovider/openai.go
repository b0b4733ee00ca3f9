package fakeprovider

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// NewOpenAI answers the OpenAI API: chat completions, the Responses API
// (SSE, JSON and the WebSocket mode) and the model list. Paths are matched
// by suffix, so /v1/chat/completions and /chat/completions both work.
func NewOpenAI(reply Reply) *Fake { return newFake("openai", reply, routeOpenAI) }

// NewCopilot answers the Copilot API, which is OpenAI-compatible and served
// without a /v1 prefix.
func NewCopilot(reply Reply) *Fake { return newFake("copilot", reply, routeOpenAI) }

func routeOpenAI(f *Fake, w http.ResponseWriter, r *http.Request, rec *Request) {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/chat/completions") && r.Method == http.MethodPost:
		f.chatCompletions(w, r)
	case strings.HasSuffix(p, "/responses") && isUpgrade(r) && f.NoWebSocket:
		openAIError(w, http.StatusUpgradeRequired, "WebSocket mode is not available", "invalid_request_error")
	case strings.HasSuffix(p, "/responses") && isUpgrade(r):
		f.responsesWS(w, r, rec)
	case strings.HasSuffix(p, "/responses") && r.Method == http.MethodPost:
		f.responses(w, r)
	case strings.HasSuffix(p, "/models") && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": f.openAIModels()})
	case strings.Contains(p, "/models/") && r.Method == http.MethodGet:
		id := p[strings.LastIndex(p, "/")+1:]
		writeJSON(w, http.StatusOK, openAIModel(id))
	default:
		openAIError(w, http.StatusNotFound, "Invalid URL ("+r.Method+" "+p+")", "invalid_request_error")
	}
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func openAIError(w http.ResponseWriter, status int, msg, typ string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}})
}

func (f *Fake) openAIModels() []any {
	var out []any
	for _, id := range ModelIDs[f.Name] {
		out = append(out, openAIModel(id))
	}
	return out
}

// openAIModel carries the OpenAI fields plus the capability fields the
// Copilot model list has; clients ignore what they do not know.
func openAIModel(id string) map[string]any {
	return map[string]any{
		"id": id, "object": "model", "created": 1700000000, "owned_by": "fake",
		"name": id, "version": id, "vendor": "fake", "model_picker_enabled": true, "preview": false,
		"capabilities": map[string]any{
			"family": id, "type": "chat", "object": "model_capabilities", "tokenizer": "o200k_base",
			"limits":   map[string]any{"max_context_window_tokens": 200000, "max_output_tokens": 32000, "max_prompt_tokens": 128000},
			"supports": map[string]any{"streaming": true, "tool_calls": true, "parallel_tool_calls": true, "vision": false},
		},
		"supported_endpoints": []string{"/chat/completions", "/responses"},
		"policy":              map[string]any{"state": "enabled", "terms": "fake"},
		"billing":             map[string]any{"is_premium": false, "multiplier": 0},
		"is_chat_default":     true, "is_chat_fallback": true, "model_picker_category": "versatile",
	}
}

func (f *Fake) chatUsage() map[string]any {
	u := f.Reply
	return map[string]any{
		"prompt_tokens": u.InputTokens, "completion_tokens": u.OutputTokens, "total_tokens": u.InputTokens + u.OutputTokens,
		"prompt_tokens_details":     map[string]any{"cached_tokens": u.CachedTokens},
		"completion_tokens_details": map[string]any{"reasoning_tokens": 0},
	}
}

func (f *Fake) chatCompletions(w http.ResponseWriter, r *http.Request) {
	body, err := decode(r)
	if err != nil {
		openAIError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error(), "invalid_request_error")
		return
	}
	model := str(body, "model", "gpt-5")
	id, created := newID("chatcmpl-"), time.Now().Unix()
	if !truthy(body, "stream") {
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": model, "system_fingerprint": "fp_fake",
			"choices": []any{map[string]any{"index": 0, "logprobs": nil, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": f.Reply.Text, "refusal": nil}}},
			"usage": f.chatUsage(),
		})
		return
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"system_fingerprint": "fp_fake",
			"choices":            []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}}}
	}
	s := startSSE(w)
	s.event("", chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	for _, c := range f.Reply.chunks() {
		s.event("", chunk(map[string]any{"content": c}, nil))
	}
	// With stream_options.include_usage the API sends usage in a chunk of
	// its own with no choices; Copilot and most compatible servers put it in
	// the last chunk instead. Both are handled by the token tracker.
	last := chunk(map[string]any{}, "stop")
	opts, _ := body["stream_options"].(map[string]any)
	if opts != nil && truthy(opts, "include_usage") {
		s.event("", last)
		s.event("", map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"choices": []any{}, "usage": f.chatUsage()})
	} else {
		last["usage"] = f.chatUsage()
		s.event("", last)
	}
	s.raw("", "[DONE]")
}

// responseObject is a Responses API response; done chooses the final form.
func (f *Fake) responseObject(id, msgID, model string, created int64, done bool) map[string]any {
	u := f.Reply
	o := map[string]any{
		"id": id, "object": "response", "created_at": created, "model": model,
		"status": "in_progress", "output": []any{}, "usage": nil, "error": nil, "incomplete_details": nil,
		"instructions": nil, "metadata": map[string]any{}, "parallel_tool_calls": true, "temperature": 1.0,
		"top_p": 1.0, "tool_choice": "auto", "tools": []any{}, "text": map[string]any{"format": map[string]any{"type": "text"}},
		"reasoning": map[string]any{"effort": nil, "summary": nil}, "store": false, "truncation": "disabled",
	}
	if done {
		o["status"] = "completed"
		o["output"] = []any{f.responseMessage(msgID, true)}
		o["usage"] = map[string]any{
			"input_tokens": u.InputTokens, "output_tokens": u.OutputTokens, "total_tokens": u.InputTokens + u.OutputTokens,
			"input_tokens_details":  map[string]any{"cached_tokens": u.CachedTokens},
			"output_tokens_details": map[string]any{"reasoning_tokens": 0},
		}
	}
	return o
}

func (f *Fake) responseMessage(msgID string, done bool) map[string]any {
	m := map[string]any{"id": msgID, "type": "message", "role": "assistant", "status": "in_progress", "content": []any{}}
	if done {
		m["status"] = "completed"
		m["content"] = []any{outputText(f.Reply.Text)}
	}
	return m
}

func outputText(s string) map[string]any {
	return map[string]any{"type": "output_text", "text": s, "annotations": []any{}, "logprobs": []any{}}
}

// responseEvents is the event sequence of one streamed Responses API turn.
func (f *Fake) responseEvents(model string) []map[string]any {
	id, msgID, created := newID("resp_"), newID("msg_"), time.Now().Unix()
	var evs []map[string]any
	add := func(typ string, kv map[string]any) {
		kv["type"] = typ
		kv["sequence_number"] = len(evs)
		evs = append(evs, kv)
	}
	add("response.created", map[string]any{"response": f.responseObject(id, msgID, model, created, false)})
	add("response.in_progress", map[string]any{"response": f.responseObject(id, msgID, model, created, false)})
	add("response.output_item.added", map[string]any{"output_index": 0, "item": f.responseMessage(msgID, false)})
	add("response.content_part.added", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "part": outputText("")})
	for _, c := range f.Reply.chunks() {
		add("response.output_text.delta", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "delta": c, "logprobs": []any{}})
	}
	add("response.output_text.done", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "text": f.Reply.Text, "logprobs": []any{}})
	add("response.content_part.done", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "part": outputText(f.Reply.Text)})
	add("response.output_item.done", map[string]any{"output_index": 0, "item": f.responseMessage(msgID, true)})
	add("response.completed", map[string]any{"response": f.responseObject(id, msgID, model, created, true)})
	return evs
}

func (f *Fake) responses(w http.ResponseWriter, r *http.Request) {
	body, err := decode(r)
	if err != nil {
		openAIError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error(), "invalid_request_error")
		return
	}
	model := str(body, "model", "gpt-5")
	if !truthy(body, "stream") {
		writeJSON(w, http.StatusOK, f.responseObject(newID("resp_"), newID("msg_"), model, time.Now().Unix(), true))
		return
	}
	s := startSSE(w)
	for _, ev := range f.responseEvents(model) {
		s.event(ev["type"].(string), ev)
	}
}

// responsesWS is the Responses API WebSocket mode: each text message
// {"type":"response.create", ...request} is answered with the stream's
// events as text messages, on a connection that stays open for more turns.
func (f *Fake) responsesWS(w http.ResponseWriter, r *http.Request, rec *Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionContextTakeover})
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(maxBody) // agents send whole conversations in one message
	f.update(func() { rec.WebSocket, rec.Status = true, http.StatusSwitchingProtocols })
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
	defer cancel()
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		f.update(func() { rec.Frames = append(rec.Frames, string(msg)) })
		var req map[string]any
		if json.Unmarshal(msg, &req) != nil || str(req, "type", "") != "response.create" {
			b, _ := json.Marshal(map[string]any{"type": "error", "status": 400,
				"error": map[string]any{"type": "invalid_request_error", "message": "expected a response.create message"}})
			c.Write(ctx, websocket.MessageText, b)
			continue
		}
		model := str(req, "model", "")
		if inner, ok := req["response"].(map[string]any); ok && model == "" {
			model = str(inner, "model", "")
		}
		if model == "" {
			model = "gpt-5"
		}
		for _, ev := range f.responseEvents(model) {
			b, _ := json.Marshal(ev)
			if err := c.Write(ctx, websocket.MessageText, b); err != nil {
				return
			}
		}
	}
}
