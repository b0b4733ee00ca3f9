// Package inspect terminates the agent's TLS in the egress proxy for the
// hosts a rule needs to see inside (URL rules, DLP, credential injection),
// with a per-run CA, and re-originates verified TLS to the real host.
package inspect

import "net/http"

// Hook sees every inspected request before it goes upstream. Hooks are the
// seam between the inspection machinery (this package) and the policies that
// use it (URL rules, DLP, credential injection), so each policy stays a small
// package that is tested without TLS.
type Hook interface {
	// Name appears in logs and the policy manifest.
	Name() string
	// Inspects reports whether this hook needs to see inside connections to
	// host (canonical lower-case name, no port). A host that no hook
	// inspects is tunnelled untouched, so pinning clients keep working.
	Inspects(host string) bool
	// Request runs for each inspected request to host, in hook order. It
	// may rewrite headers (credential injection) or wrap req.Body (a
	// streaming scan); a non-nil Block refuses the request and nothing of it
	// is sent upstream. A body wrapper that finds something later returns
	// the *Block as its Read error: the upstream request is aborted (it has
	// seen only what the wrapper passed on) and the agent gets the Block.
	Request(req *http.Request, host string) *Block
}

// HostLister is implemented by hooks that inspect a known set of hosts
// (names or patterns): the policy manifest lists them. A hook without it
// is listed as inspecting "*".
type HostLister interface {
	InspectedHosts() []string
}

// Block is a refusal with the same rule/reason shape as every other
// allow/deny decision, so the access log, audit and the agent's error body
// say the same thing.
type Block struct {
	Status int    // HTTP status given to the agent (403 unless a hook says otherwise)
	Rule   string // e.g. "allow-urls", "dlp:github_token"
	Reason string // one line, never containing the matched secret
	// LogURL, when set, replaces the request's URL in the logs and the
	// agent's error body (a DLP hook that found a secret in the query
	// gives the URL with the secret masked).
	LogURL string
}

// Error makes a Block usable as a body reader's error.
func (b *Block) Error() string { return "awf firewall: " + b.Rule + ": " + b.Reason }

// HostScanner is implemented by hooks that also judge host names (DLP): a
// credential in a name leaks through DNS, SNI and CONNECT before any
// request exists. The egress proxy asks it for every admitted name.
type HostScanner interface {
	ScanHost(host string) *Block
}

// PlainHTTP is implemented by hooks that also see plain http:// requests
// through the egress proxy (no TLS to terminate, so no CA is needed).
type PlainHTTP interface {
	PlainHTTP() bool
}

// NeedsCA reports whether hooks need TLS terminated anywhere: a hook that
// lists no hosts (HostLister returning none) inspects nothing.
func NeedsCA(hooks []Hook) bool {
	for _, h := range hooks {
		if l, ok := h.(HostLister); !ok || len(l.InspectedHosts()) > 0 {
			return true
		}
	}
	return false
}
