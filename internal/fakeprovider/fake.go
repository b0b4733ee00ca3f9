package fakeprovider

import "net/http"

// Fake is one fake provider: a recording http.Handler.
type Fake struct {
	Recorder
	Name  string // "openai", "anthropic", "gemini" or "copilot"
	Reply Reply
	// NoWebSocket refuses Responses API upgrades (426), as a server without
	// the WebSocket mode: clients must fall back to SSE.
	NoWebSocket bool
	h           http.Handler
}

func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.h.ServeHTTP(w, r) }

func newFake(name string, reply Reply, route func(f *Fake, w http.ResponseWriter, r *http.Request, rec *Request)) *Fake {
	f := &Fake{Name: name, Reply: reply.orDefault()}
	f.h = f.recording(func(w http.ResponseWriter, r *http.Request, rec *Request) { route(f, w, r, rec) })
	return f
}

// ModelIDs are the models every fake lists; requests may name any model.
var ModelIDs = map[string][]string{
	"openai":    {"gpt-5", "gpt-5-mini", "gpt-4o-mini"},
	"copilot":   {"gpt-5", "gpt-4.1", "claude-sonnet-4.5"},
	"anthropic": {"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"},
	"gemini":    {"gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"},
}
