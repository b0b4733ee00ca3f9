package domains

import (
	"sort"
	"strings"
)

// Rule ids, as in the original's policy-manifest.json.
const (
	RuleDenyUnsafePorts        = "deny-unsafe-ports"
	RuleDenyConnectUnsafePorts = "deny-connect-unsafe-ports"
	RuleDenyRawIPv4            = "deny-raw-ipv4"
	RuleDenyRawIPv6            = "deny-raw-ipv6"
	RuleDenyBlockedPlain       = "deny-blocked-plain"
	RuleDenyBlockedRegex       = "deny-blocked-regex"
	RuleAllowHTTPOnlyPlain     = "allow-http-only-plain"
	RuleAllowHTTPOnlyRegex     = "allow-http-only-regex"
	RuleAllowHTTPSOnlyPlain    = "allow-https-only-plain"
	RuleAllowHTTPSOnlyRegex    = "allow-https-only-regex"
	RuleAllowBothPlain         = "allow-both-plain"
	RuleAllowBothRegex         = "allow-both-regex"
	RuleDenyDefault            = "deny-default"
)

// Decision reasons, short and user-facing.
const (
	ReasonNotInAllowlist = "domain not in allowlist"
	ReasonBlocked        = "blocked"
	ReasonRawIP          = "raw IP not allowed"
	ReasonInvalidHost    = "invalid host name"
	ReasonUnknownProto   = "unknown protocol"
)

// group is an entry's place in the evaluation order; rank = 2*group, +1 for
// patterns, reproduces the original's rule order (plain before regex).
type group int

const (
	groupBlock group = iota
	groupHTTP
	groupHTTPS
	groupBoth
	numGroups
)

const rankNone = 2 * int(numGroups)

var ruleIDs = [rankNone]string{
	RuleDenyBlockedPlain, RuleDenyBlockedRegex,
	RuleAllowHTTPOnlyPlain, RuleAllowHTTPOnlyRegex,
	RuleAllowHTTPSOnlyPlain, RuleAllowHTTPSOnlyRegex,
	RuleAllowBothPlain, RuleAllowBothRegex,
}

func groupOf(s scope) group {
	switch s {
	case scopeHTTP:
		return groupHTTP
	case scopeHTTPS:
		return groupHTTPS
	}
	return groupBoth
}

// compiled is an entry with everything a decision reports precomputed, so
// that Decide does not allocate.
type compiled struct {
	entry
	rank    int
	rule    string
	reason  string
	display string
}

// Policy is a compiled allowlist and blocklist. It is immutable, and safe
// for concurrent use. A nil Policy denies everything.
type Policy struct {
	allow, block []*compiled                      // after de-duplication, in input order
	plain        map[string]*[numGroups]*compiled // canonical domain -> entry per group
	patterns     []*compiled                      // sorted by rank, input order within a rank
	notices      []Notice                         // entries not taken as written
}

// Compile validates and compiles an allowlist and a blocklist with the
// default Options.
func Compile(allow, block []string) (*Policy, error) { return Options{}.Compile(allow, block) }

// Compile validates every entry (allowlist first, then blocklist, stopping
// at the first one the original rejects, with an *EntryError), canonicalises
// it, removes redundant entries as the original does, and builds the
// matcher. An allowlist entry the original accepts but awf does not honour
// (see Notice) is left out and reported by Notices; blocklist entries are
// all honoured. An empty allowlist yields a policy that denies everything.
func (o Options) Compile(allow, block []string) (*Policy, error) {
	var al, bl []entry
	var notes []Notice
	seen := map[[2]string]bool{}
	note := func(n *Notice, in, list string) {
		if n == nil || seen[[2]string{list, in}] {
			return
		}
		seen[[2]string{list, in}] = true
		n.Entry, n.List = in, list
		notes = append(notes, *n)
	}
	for _, in := range allow {
		e, n, err := o.parseEntry(in, false)
		if err != nil {
			return nil, &EntryError{Entry: in, Err: err}
		}
		note(n, in, ListAllow)
		if n == nil || !n.Ignored {
			al = append(al, e)
		}
	}
	for _, in := range block {
		e, n, err := o.parseEntry(in, true)
		if err != nil {
			return nil, &EntryError{Entry: in, Blocked: true, Err: err}
		}
		note(n, in, ListBlock)
		bl = append(bl, e)
	}
	p := &Policy{plain: make(map[string]*[numGroups]*compiled), notices: notes}
	for _, e := range dedupAllow(dedupExact(al)) {
		p.allow = append(p.allow, p.add(e, groupOf(e.scope)))
	}
	for _, e := range dedupExact(bl) {
		p.block = append(p.block, p.add(e, groupBlock))
	}
	sort.SliceStable(p.patterns, func(i, j int) bool { return p.patterns[i].rank < p.patterns[j].rank })
	return p, nil
}

// Notices returns what was said about the entries, in input order
// (allowlist first), once per entry: the ignored allowlist entries, the
// broadened blocklist entries and the wildcards over shared suffixes.
func (p *Policy) Notices() []Notice {
	if p == nil {
		return nil
	}
	return append([]Notice(nil), p.notices...)
}

// Ignored returns the allowlist entries that are not honoured, for the
// policy manifest's record.
func (p *Policy) Ignored() []Notice {
	var out []Notice
	if p != nil {
		for _, n := range p.notices {
			if n.Ignored {
				out = append(out, n)
			}
		}
	}
	return out
}

func (p *Policy) add(e entry, g group) *compiled {
	c := &compiled{entry: e, rank: 2 * int(g), display: e.display()}
	if e.wildcard {
		c.rank++
	}
	c.rule = ruleIDs[c.rank]
	if g == groupBlock {
		c.reason = ReasonBlocked
	} else {
		c.reason = "allowed by " + c.display
	}
	switch {
	case e.inert:
	case e.wildcard:
		p.patterns = append(p.patterns, c)
	default:
		slot := p.plain[e.domain]
		if slot == nil {
			slot = new([numGroups]*compiled)
			p.plain[e.domain] = slot
		}
		if slot[g] == nil {
			slot[g] = c
		}
	}
	return c
}

// dedupExact drops repeated entries (same canonical domain or pattern and
// same protocol scope), keeping the first.
func dedupExact(in []entry) []entry {
	type key struct {
		s scope
		d string
		w bool
	}
	seen := make(map[key]bool, len(in))
	var out []entry
	for _, e := range in {
		k := key{e.scope, e.domain, e.wildcard}
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// dedupAllow removes the allowlist entries the original removes: a plain
// subdomain whose plain parent covers its protocols, and a plain domain a
// pattern covers. Unlike the original, a pattern covers a plain domain only
// if it starts with `*` and so also covers the domain's subdomains: the
// original drops api-v1.example.com for api-*.example.com and thereby stops
// admitting x.api-v1.example.com.
func dedupAllow(in []entry) []entry {
	var out []entry
	for i, e := range in {
		if e.wildcard || !covered(e, i, in) {
			out = append(out, e)
		}
	}
	return out
}

func covered(e entry, i int, all []entry) bool {
	for j, o := range all {
		if j == i {
			continue
		}
		if o.wildcard {
			if e.inert || !o.glob.leadingStar() || !o.glob.match(e.domain) {
				continue
			}
			if o.scope == scopeBoth || (e.scope != scopeBoth && o.scope == e.scope) {
				return true
			}
			continue
		}
		if e.domain != o.domain && strings.HasSuffix(e.domain, "."+o.domain) &&
			(o.scope == scopeBoth || o.scope == e.scope) {
			return true
		}
	}
	return false
}

// Decide judges a host name (no port) for a request over proto. The name
// is canonicalised first (see Canonical) and Decision.Host carries the
// canonical form: a caller must dial, and compare, that name and not the
// spelling it was given. Order, as the original's: raw IP, blocklist
// (plain, then patterns), http-only, https-only, both, default deny. An
// invalid name is denied by deny-default with reason "invalid host name";
// its Host is then the input as given, which may hold any bytes.
func (p *Policy) Decide(host string, proto Proto) Decision {
	if proto != HTTP && proto != HTTPS {
		return Decision{Host: host, Rule: RuleDenyDefault, Reason: ReasonUnknownProto}
	}
	c, kind := classify(host)
	switch kind {
	case kindInvalid:
		return Decision{Host: host, Rule: RuleDenyDefault, Reason: ReasonInvalidHost}
	case kindIPv4:
		return Decision{Host: c, Rule: RuleDenyRawIPv4, Reason: ReasonRawIP}
	case kindIPv6:
		return Decision{Host: c, Rule: RuleDenyRawIPv6, Reason: ReasonRawIP}
	}
	if p == nil {
		return Decision{Host: c, Rule: RuleDenyDefault, Reason: ReasonNotInAllowlist}
	}
	protoGroup := groupHTTP
	if proto == HTTPS {
		protoGroup = groupHTTPS
	}
	best, hit := rankNone, (*compiled)(nil)
	for s := c; ; {
		if slot := p.plain[s]; slot != nil {
			if b := slot[groupBlock]; b != nil {
				return Decision{Host: c, Rule: b.rule, Reason: b.reason, Entry: b.display}
			}
			for _, g := range [2]group{protoGroup, groupBoth} {
				if e := slot[g]; e != nil && e.rank < best {
					best, hit = e.rank, e
				}
			}
		}
		i := strings.IndexByte(s, '.')
		if i < 0 {
			break
		}
		s = s[i+1:]
	}
	for _, e := range p.patterns {
		if e.rank >= best {
			break
		}
		if g := group(e.rank / 2); g != groupBlock && g != groupBoth && g != protoGroup {
			continue
		}
		if e.glob.match(c) {
			hit = e
			break
		}
	}
	if hit == nil {
		return Decision{Host: c, Rule: RuleDenyDefault, Reason: ReasonNotInAllowlist}
	}
	return Decision{Allowed: hit.rank >= 2, Host: c, Rule: hit.rule, Reason: hit.reason, Entry: hit.display}
}

// DecideAnyProto admits a name if either protocol would be admitted; this
// is the question a DNS answer has to settle, before any protocol is known.
func (p *Policy) DecideAnyProto(host string) Decision {
	d := p.Decide(host, HTTPS)
	if d.Allowed || d.Rule != RuleDenyDefault || d.Reason != ReasonNotInAllowlist {
		return d
	}
	if h := p.Decide(host, HTTP); h.Allowed {
		return h
	}
	return d
}
