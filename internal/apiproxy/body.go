package apiproxy

import (
	"io"
	"sync/atomic"

	"github.com/awf-dev/awf/internal/usage"
)

// responseBody relays the upstream body unchanged while counting it and
// letting the token tracker read a copy. Its Close ends the request.
type responseBody struct {
	s  *Server
	st *reqState
	rc io.ReadCloser
	tr *usage.Tracker   // HTTP responses
	ws *usage.WSTracker // upgraded connections, upstream -> agent
	wg *wsGuard         // per-turn guards of an upgraded connection (guard_ws.go)
	n  atomic.Int64
}

func (b *responseBody) Read(p []byte) (int, error) {
	if b.wg != nil && b.wg.isRefused() {
		if n, err, ok := b.wg.read(p); ok {
			return n, err
		}
	}
	n, err := b.rc.Read(p)
	if n > 0 {
		b.n.Add(int64(n))
		switch {
		case b.tr != nil:
			b.tr.Write(p[:n])
		case b.ws != nil:
			b.ws.Write(p[:n])
		}
	}
	if err != nil && n == 0 && b.wg != nil && b.wg.isRefused() {
		// The upstream was closed because a turn was refused: tell the agent why.
		if n, err, ok := b.wg.read(p); ok {
			return n, err
		}
	}
	return n, err
}

func (b *responseBody) Close() error {
	err := b.rc.Close()
	var u usage.Usage
	switch {
	case b.tr != nil:
		u = b.tr.Finish()
	case b.ws != nil:
		u = b.ws.Finish()
		if b.wg != nil && b.wg.close() {
			u = usage.Usage{} // each turn has its own record
		}
	}
	b.st.respBytes = b.n.Load()
	b.s.finish(b.st, u)
	return err
}

// upgradeBody is the upgraded connection: the reverse proxy needs it to be
// writable (agent -> upstream frames go through Write).
type upgradeBody struct {
	*responseBody
	w io.ReadWriteCloser
}

func (b *upgradeBody) Write(p []byte) (int, error) {
	if b.wg != nil && !b.wg.forward(p) {
		return len(p), nil // a refused turn goes nowhere
	}
	return b.w.Write(p)
}
