package apiproxy

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/awf-dev/awf/internal/guards"
	"github.com/awf-dev/awf/internal/usage"
)

// wsGuard applies the guards per turn on a relayed WebSocket (the OpenAI
// Responses API's WebSocket mode, where one connection carries many turns):
// each response.create the agent sends is admitted like an HTTP request
// before its bytes go upstream, and each response's usage is settled and
// recorded as it arrives. The original checks only the upgrade; a runaway
// agent on one long connection would otherwise never meet a budget.
//
// A refused turn is never delivered: its bytes are dropped, the upstream
// connection is closed, and the agent gets a text message
// {"type":"error","status":N,"error":{...}} (the guard's JSON) followed by
// a close frame 1008 with the guard's name, spliced in between two of the
// upstream's messages (when the upstream was mid-message, the connection is
// just closed).
type wsGuard struct {
	s   *Server
	st  *reqState
	srv *usage.WSTracker // upstream -> agent (the responseBody's tracker)
	cl  *usage.WSTracker // agent -> upstream
	up  io.Closer

	mu       sync.Mutex
	pending  []wsTurn // admitted turns awaiting their usage, oldest first
	refused  *guards.Decision
	inject   []byte // frames for the agent after a refusal
	injected bool   // inject was prepared (or could not be)
	records  int    // per-turn records written
}

type wsTurn struct {
	t     *guards.Ticket
	start time.Time
}

func (s *Server) guardWebSocket(st *reqState, rb *responseBody, up io.Closer) *wsGuard {
	g := &wsGuard{s: s, st: st, srv: rb.ws, cl: usage.NewWSTracker(st.p.Name), up: up}
	g.cl.SetMaxMessage(MaxBodyBytes) // a response.create carries the whole conversation
	g.cl.SetOnMessage(g.clientMessage)
	g.srv.SetOnMessage(g.serverMessage)
	return g
}

// forward reports whether agent bytes p may go upstream. It parses them
// first; a refused turn (and everything after it) is dropped.
func (g *wsGuard) forward(p []byte) bool {
	g.mu.Lock()
	refusedBefore := g.refused != nil
	g.mu.Unlock()
	if refusedBefore {
		return false
	}
	g.cl.Write(p) // calls clientMessage for each message p completes
	g.mu.Lock()
	refused := g.refused != nil
	g.mu.Unlock()
	if refused {
		g.up.Close() // the upstream never gets the turn; Read then splices the refusal in
	}
	return !refused
}

// clientMessage admits one agent message (called by the client tracker).
func (g *wsGuard) clientMessage(msg []byte, whole bool) {
	var m struct {
		Type     string `json:"type"`
		Model    string `json:"model"`
		Response struct {
			Model string `json:"model"`
		} `json:"response"`
	}
	if whole && (json.Unmarshal(msg, &m) != nil || m.Type != "response.create") {
		return // only turns are admitted; other messages pass
	}
	model := m.Model
	if model == "" {
		model = m.Response.Model
	}
	// A message too large to keep is admitted as a turn without a model:
	// the budgets still apply.
	req := guards.Request{Provider: g.st.p.Name, Method: http.MethodPost, Path: g.st.path, Model: model}
	if whole {
		req.Hosted = g.s.guards.Config().HostedInMessage(g.st.p.Name, msg) // hostedWeb rule (guards/hostedweb.go)
	}
	t, d := g.s.guards.Admit(req)
	g.mu.Lock()
	defer g.mu.Unlock()
	if d.Allow {
		g.pending = append(g.pending, wsTurn{t: t, start: time.Now()})
		return
	}
	if g.refused == nil {
		g.refused = &d
		g.s.log.Warn(d.Rule, append([]any{"request_id", g.st.id, "provider", g.st.p.Name, "transport", "websocket"}, d.Fields...)...)
	}
}

// serverMessage settles a turn when an upstream message reports usage
// (Responses: response.completed/incomplete/failed; Realtime:
// response.done) and writes its token-usage record.
func (g *wsGuard) serverMessage(msg []byte, whole bool) {
	if !whole {
		return
	}
	u := usage.EventUsage(msg)
	if !u.Found {
		return
	}
	g.mu.Lock()
	var turn *wsTurn
	if len(g.pending) > 0 {
		turn = &g.pending[0]
		g.pending = g.pending[1:]
	}
	g.records++
	g.mu.Unlock()
	st := g.st
	rec := usage.Record{
		Timestamp: usage.Timestamp(time.Now()), RequestID: st.id, Provider: st.p.Name, Model: u.Model, Path: sanitize(st.path),
		Status: http.StatusSwitchingProtocols, Streaming: true, Transport: "websocket",
		InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CacheReadTokens: u.CacheReadTokens, CacheWriteTokens: u.CacheWriteTokens,
	}
	var b guards.Settlement
	if turn != nil {
		rec.DurationMs = time.Since(turn.start).Milliseconds()
		if rec.Model == "" {
			rec.Model = turn.t.Model()
		}
		b = g.s.guards.Settle(turn.t, http.StatusOK, u)
	} else {
		b = g.s.guards.Charge(guards.Request{Provider: st.p.Name, Method: http.MethodPost, Path: st.path, Model: st.model}, u)
	}
	if rec.Model == "" {
		rec.Model = "unknown"
	}
	g.s.budgetFields(st, b, &rec)
	g.s.recordUsage(st, rec)
}

// read serves the spliced refusal once the upstream side has ended after
// a refusal; ok is false when the normal read result stands.
func (g *wsGuard) read(p []byte) (n int, err error, ok bool) {
	atBoundary := g.srv.AtBoundary() // before g.mu: the tracker's lock is taken first elsewhere
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refused == nil {
		return 0, nil, false
	}
	if !g.injected {
		g.injected = true
		if atBoundary {
			g.inject = refusalFrames(*g.refused)
		}
	}
	if len(g.inject) == 0 {
		return 0, io.EOF, true
	}
	n = copy(p, g.inject)
	g.inject = g.inject[n:]
	return n, nil, true
}

// refused reports whether a turn was refused (the upstream is closing).
func (g *wsGuard) isRefused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refused != nil
}

// close settles turns that never got an answer: their run slots are freed
// and nothing is charged. It reports whether per-turn records were
// written (the connection then gets no record of its own).
func (g *wsGuard) close() bool {
	g.mu.Lock()
	pending := g.pending
	g.pending = nil
	recs := g.records
	g.mu.Unlock()
	for _, t := range pending {
		g.s.guards.Settle(t.t, 499, usage.Usage{})
	}
	return recs > 0
}

// recordUsage counts and records one response's usage.
func (s *Server) recordUsage(st *reqState, rec usage.Record) {
	pm := s.pmetrics[st.p.Name]
	pm.inTokens.Add(float64(rec.InputTokens))
	pm.outTokens.Add(float64(rec.OutputTokens))
	s.log.Info("token_usage", "request_id", st.id, "provider", st.p.Name, "model", rec.Model,
		"input_tokens", rec.InputTokens, "output_tokens", rec.OutputTokens,
		"cache_read_tokens", rec.CacheReadTokens, "cache_write_tokens", rec.CacheWriteTokens)
	if s.tokens != nil {
		s.tokens.Append(rec)
	}
}

// refusalFrames are an unmasked text frame with the error event and a
// close frame 1008 (policy violation) naming the guard.
func refusalFrames(d guards.Decision) []byte {
	ev := map[string]any{"type": "error", "status": d.Status, "error": d.Body["error"]}
	msg, _ := json.Marshal(ev)
	out := wsFrame(nil, 0x1, msg)
	reason := d.Rule
	if len(reason) > 123 {
		reason = reason[:123]
	}
	cl := binary.BigEndian.AppendUint16(nil, 1008)
	return wsFrame(out, 0x8, append(cl, reason...))
}

func wsFrame(dst []byte, opcode byte, payload []byte) []byte {
	dst = append(dst, 0x80|opcode)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}
