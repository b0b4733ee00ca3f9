package fakeprovider

import (
	"net/http"
	"strings"
)

// NewAnthropic answers the Anthropic Messages API (JSON and SSE),
// count_tokens and the model list. Other paths get the API's 404 shape.
func NewAnthropic(reply Reply) *Fake { return newFake("anthropic", reply, routeAnthropic) }

func routeAnthropic(f *Fake, w http.ResponseWriter, r *http.Request, _ *Request) {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/v1/messages/count_tokens") && r.Method == http.MethodPost:
		writeJSON(w, http.StatusOK, map[string]any{"input_tokens": f.Reply.InputTokens})
	case strings.HasSuffix(p, "/v1/messages") && r.Method == http.MethodPost:
		f.messages(w, r)
	case strings.HasSuffix(p, "/v1/models") && r.Method == http.MethodGet:
		var data []any
		for _, id := range ModelIDs["anthropic"] {
			data = append(data, anthropicModel(id))
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": data, "has_more": false,
			"first_id": ModelIDs["anthropic"][0], "last_id": ModelIDs["anthropic"][len(ModelIDs["anthropic"])-1]})
	case strings.Contains(p, "/v1/models/") && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, anthropicModel(p[strings.LastIndex(p, "/")+1:]))
	default:
		anthropicError(w, http.StatusNotFound, "not_found_error", "Not found: "+r.Method+" "+p)
	}
}

func anthropicModel(id string) map[string]any {
	return map[string]any{"type": "model", "id": id, "display_name": id, "created_at": "2025-09-29T00:00:00Z"}
}

func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}})
}

func (f *Fake) anthropicUsage(output int) map[string]any {
	return map[string]any{
		"input_tokens": f.Reply.InputTokens, "output_tokens": output,
		"cache_creation_input_tokens": 0, "cache_read_input_tokens": f.Reply.CachedTokens,
		"service_tier": "standard",
	}
}

func (f *Fake) messages(w http.ResponseWriter, r *http.Request) {
	body, err := decode(r)
	if err != nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "invalid JSON body: "+err.Error())
		return
	}
	model := str(body, "model", "claude-sonnet-4-5")
	id := newID("msg_")
	if !truthy(body, "stream") {
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": model,
			"content":     []any{map[string]any{"type": "text", "text": f.Reply.Text}},
			"stop_reason": "end_turn", "stop_sequence": nil, "usage": f.anthropicUsage(f.Reply.OutputTokens),
		})
		return
	}
	s := startSSE(w)
	s.event("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": f.anthropicUsage(1),
	}})
	s.event("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
		"content_block": map[string]any{"type": "text", "text": ""}})
	s.event("ping", map[string]any{"type": "ping"})
	for _, c := range f.Reply.chunks() {
		s.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "text_delta", "text": c}})
	}
	s.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	s.event("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": f.Reply.OutputTokens}})
	s.event("message_stop", map[string]any{"type": "message_stop"})
}
