package logs

import (
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"path"
	"strings"
)

// Kinds of blocked targets.
const (
	BlockedDomain  = "domain"  // not in the allowlist: --allow-domains fixes it
	BlockedPort    = "port"    // allowed name, other port
	BlockedByList  = "blocked" // named by --block-domains
	BlockedRawIP   = "raw-ip"  // a literal address
	BlockedPrivate = "private" // resolved to a refused address
	BlockedOther   = "other"
)

// BlockedTarget is one distinct destination that was denied.
type BlockedTarget struct {
	Target string `json:"target"` // domain:port
	Domain string `json:"domain"`
	Port   string `json:"port,omitempty"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// BlockedReport is what awf prints after a failed run.
type BlockedReport struct {
	Targets    []BlockedTarget `json:"targets"`
	Allowed    []string        `json:"allowed"`
	Missing    []string        `json:"missing"`              // domains to add, in first-seen order
	Suggestion string          `json:"suggestion,omitempty"` // --allow-domains "a,b"
	PortIssues bool            `json:"portIssues"`
}

// maxBlockedTargets bounds the report however noisy the log.
const maxBlockedTargets = 1000

// BlockedCollector gathers denied entries, one per target.
type BlockedCollector struct {
	allowed []string
	index   map[string]int
	targets []BlockedTarget
}

// NewBlockedCollector starts a report for a run whose --allow-domains
// entries were allowed.
func NewBlockedCollector(allowed []string) *BlockedCollector {
	return &BlockedCollector{allowed: allowed, index: map[string]int{}}
}

// Add considers one entry; allowed and benign entries are ignored.
func (c *BlockedCollector) Add(e *Entry) {
	if e.IsAllowed || e.Benign() || e.Domain == "" || e.Domain == "-" {
		return
	}
	port := entryPort(e)
	target := e.Domain
	if port != "" {
		target += ":" + port
	}
	if i, ok := c.index[target]; ok {
		c.targets[i].Count++
		return
	}
	if len(c.targets) >= maxBlockedTargets {
		return
	}
	kind, reason := c.classify(e, port)
	c.index[target] = len(c.targets)
	c.targets = append(c.targets, BlockedTarget{Target: target, Domain: e.Domain, Port: port, Kind: kind, Reason: reason, Count: 1})
}

func entryPort(e *Entry) string {
	if e.Method == "CONNECT" {
		return PortOf(e.URL)
	}
	if e.DestPort != "" && e.DestPort != "-" {
		return e.DestPort
	}
	if p := PortOf(e.Host); p != "" {
		return p
	}
	if u, err := url.Parse(e.URL); err == nil && u.Host != "" {
		if p := u.Port(); p != "" {
			return p
		}
		if u.Scheme == "https" {
			return "443"
		}
		return "80"
	}
	return ""
}

// classify prefers the reason the egress proxy recorded; for a squid log it
// falls back to the original's reasoning from the allowlist and the port.
func (c *BlockedCollector) classify(e *Entry, port string) (kind, reason string) {
	if r := e.Reason; r != "" {
		switch {
		case r == "domain not in allowlist":
			return BlockedDomain, r
		case strings.HasPrefix(r, "port"):
			return BlockedPort, r
		case r == "blocked":
			return BlockedByList, "blocked by --block-domains"
		case strings.Contains(r, "raw IP"):
			return BlockedRawIP, r
		case strings.Contains(r, "private") || strings.Contains(r, "destination not allowed"):
			return BlockedPrivate, r
		}
		return BlockedOther, r
	}
	if isIPLiteral(e.Domain) {
		return BlockedRawIP, "raw IP not allowed"
	}
	if !c.covered(e.Domain) {
		return BlockedDomain, "domain not in allowlist"
	}
	if port != "" && port != "80" && port != "443" {
		return BlockedPort, fmt.Sprintf("port %s not allowed, only 80 and 443 are permitted", port)
	}
	return BlockedOther, ""
}

func isIPLiteral(h string) bool {
	_, err := netip.ParseAddr(strings.Trim(h, "[]"))
	return err == nil
}

// covered reports whether an allowlist entry admits name by the original's
// rule (the name or a subdomain), with protocol prefixes dropped and "*"
// read as a wildcard.
func (c *BlockedCollector) covered(name string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	for _, a := range c.allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		a = strings.TrimPrefix(strings.TrimPrefix(a, "https://"), "http://")
		a = strings.TrimSuffix(a, "/")
		if a == "" {
			continue
		}
		if strings.Contains(a, "*") {
			if ok, _ := path.Match(a, name); ok {
				return true
			}
			continue
		}
		if name == a || strings.HasSuffix(name, "."+a) {
			return true
		}
	}
	return false
}

// Report finishes the collection.
func (c *BlockedCollector) Report() BlockedReport {
	r := BlockedReport{Targets: c.targets, Allowed: append([]string{}, c.allowed...), Missing: []string{}}
	if r.Targets == nil {
		r.Targets = []BlockedTarget{}
	}
	seen := map[string]bool{}
	for _, t := range c.targets {
		switch t.Kind {
		case BlockedDomain:
			if !seen[t.Domain] {
				seen[t.Domain] = true
				r.Missing = append(r.Missing, t.Domain)
			}
		case BlockedPort:
			r.PortIssues = true
		}
	}
	if len(r.Missing) > 0 {
		r.Suggestion = fmt.Sprintf(`--allow-domains "%s"`, strings.Join(append(append([]string{}, r.Allowed...), r.Missing...), ","))
	}
	return r
}

// Blocked is the pure form: the report over a list of entries.
func Blocked(entries []Entry, allowed []string) BlockedReport {
	c := NewBlockedCollector(allowed)
	for i := range entries {
		c.Add(&entries[i])
	}
	return c.Report()
}

// BlockedFromDir reads a run's egress logs (audit.jsonl preferred, as it
// carries the proxy's reasons) and builds the report.
func BlockedFromDir(dir string, allowed []string) (BlockedReport, []ParseReport, error) {
	c := NewBlockedCollector(allowed)
	reps, err := ScanSource(Source{Kind: KindPreserved, Path: dir}, c.Add)
	return c.Report(), reps, err
}

// Lines are the messages the original prints after a failed run.
func (r BlockedReport) Lines() []string {
	if len(r.Targets) == 0 {
		return nil
	}
	l := []string{"Firewall blocked domains:"}
	for _, t := range r.Targets {
		if t.Reason == "" {
			l = append(l, "  - Blocked: "+t.Target)
		} else {
			l = append(l, fmt.Sprintf("  - Blocked: %s (%s)", t.Target, t.Reason))
		}
	}
	l = append(l, "Allowed domains:")
	for _, a := range r.Allowed {
		l = append(l, "  - Allowed: "+a)
	}
	if r.Suggestion != "" {
		l = append(l, "To fix domain issues: "+r.Suggestion)
	}
	if r.PortIssues {
		l = append(l, "To fix port issues: Use standard ports 80 (HTTP) or 443 (HTTPS)")
	}
	return l
}

// Print writes the report as warnings ("[WARN] " lines, like the original's
// logger) to w, usually stderr. It prints nothing when nothing was blocked.
func (r BlockedReport) Print(w io.Writer) error {
	for _, line := range r.Lines() {
		if _, err := fmt.Fprintln(w, "[WARN] "+line); err != nil {
			return err
		}
	}
	return nil
}
