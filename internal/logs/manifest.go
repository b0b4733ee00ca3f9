package logs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Rule is one entry of policy-manifest.json: an access rule in evaluation
// order, as the original names and orders them (deny-unsafe-ports, ...,
// allow-both-plain, deny-default).
type Rule struct {
	ID          string   `json:"id"`
	Order       int      `json:"order"`
	Action      string   `json:"action"` // allow | deny
	ACLName     string   `json:"aclName"`
	Protocol    string   `json:"protocol"` // http | https | both
	Domains     []string `json:"domains"`
	Description string   `json:"description"`
}

// Manifest is policy-manifest.json.
type Manifest struct {
	Version           int      `json:"version"`
	GeneratedAt       string   `json:"generatedAt"`
	Rules             []Rule   `json:"rules"`
	DangerousPorts    []int    `json:"dangerousPorts"`
	DNSServers        []string `json:"dnsServers"`
	SSLBumpEnabled    bool     `json:"sslBumpEnabled"`
	DLPEnabled        bool     `json:"dlpEnabled"`
	HostAccessEnabled bool     `json:"hostAccessEnabled"`
	AllowHostPorts    *string  `json:"allowHostPorts"`
	// awf's additions: how host.docker.internal is served and the CLI
	// proxy, when in use.
	HostAccess *HostAccessInfo `json:"hostAccess,omitempty"`
	CLIProxy   *CLIProxyInfo   `json:"cliProxy,omitempty"`
	// Inspection (awf's addition) is TLS inspection with --ssl-bump.
	Inspection *InspectionInfo `json:"inspection,omitempty"`
	// IgnoredEntries (awf's addition) are the allowlist entries the
	// original accepts but awf does not honour: they admit nothing.
	IgnoredEntries []IgnoredEntry `json:"ignoredEntries,omitempty"`
}

// IgnoredEntry is an allowlist entry left out of the rules, with why and
// the safe spelling to use instead (domains.Notice).
type IgnoredEntry struct {
	Entry   string `json:"entry"`
	List    string `json:"list"`
	Kind    string `json:"kind"`
	Reason  string `json:"reason"`
	Instead string `json:"instead,omitempty"`
}

// Warning is the line printed for it when the run started.
func (e IgnoredEntry) Warning() string {
	q := "'" + e.Entry + "'"
	if strings.IndexFunc(e.Entry, func(r rune) bool { return !unicode.IsGraphic(r) }) >= 0 {
		q = strconv.QuoteToGraphic(e.Entry) // the manifest is input: no terminal controls
	}
	s := fmt.Sprintf("Ignored allowed domain %s: %s", q, e.Reason)
	if e.Instead != "" {
		s += "; use " + e.Instead + " instead"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsGraphic(r) {
			return r
		}
		return '?'
	}, s)
}

// HostAccessInfo describes host.docker.internal in the sandbox.
type HostAccessInfo struct {
	Name      string   `json:"name"`
	Addresses []string `json:"addresses"`
	EnabledBy string   `json:"enabledBy,omitempty"`
	// Ports are "80 (default)", "8080 (--allow-host-ports)",
	// "10000-10004 (api-proxy)", ...
	Ports        []string `json:"ports"`
	ServicePorts *string  `json:"allowHostServicePorts,omitempty"`
}

// CLIProxyInfo describes the CLI proxy.
type CLIProxyInfo struct {
	URL       string `json:"url"`
	DIFCProxy string `json:"difcProxy"`
	CACert    bool   `json:"caCert"`
	AccessLog string `json:"accessLog"`
}

// InspectionInfo describes TLS inspection (--ssl-bump): which policies see
// inside TLS and for which hosts; every other host is tunnelled untouched.
type InspectionInfo struct {
	CACertSHA256   string    `json:"caCertSha256"`
	Hooks          []string  `json:"hooks"`
	URLRules       []URLRule `json:"urlRules"`
	InspectedHosts []string  `json:"inspectedHosts"`
}

// URLRule is one --allow-urls pattern and the regular expression it means.
type URLRule struct {
	Pattern string `json:"pattern"`
	Regex   string `json:"regex"`
}

// DefaultDangerousPorts are the ports the original refuses outright.
var DefaultDangerousPorts = []int{22, 23, 25, 110, 143, 445, 1433, 1521, 3306, 3389,
	5432, 5984, 6379, 6984, 8086, 8088, 9200, 9300, 27017, 27018, 28017}

// ManifestOptions are the run facts recorded next to the rules.
type ManifestOptions struct {
	DNSServers     []string
	DangerousPorts []int // nil: DefaultDangerousPorts
	SSLBump        bool
	DLP            bool
	HostAccess     bool
	AllowHostPorts string // "" is recorded as null
	GeneratedAt    time.Time
	HostInfo       *HostAccessInfo
	CLIProxy       *CLIProxyInfo
	Ignored        []IgnoredEntry
	Inspection     *InspectionInfo
}

// NewManifest builds the manifest from plain data. Orders that are zero are
// filled in from the position, so a caller may pass the rules as a list.
func NewManifest(rules []Rule, o ManifestOptions) Manifest {
	m := Manifest{Version: 1, Rules: make([]Rule, len(rules))}
	for i, r := range rules {
		if r.Order == 0 {
			r.Order = i + 1
		}
		if r.Domains == nil {
			r.Domains = []string{}
		}
		m.Rules[i] = r
	}
	t := o.GeneratedAt
	if t.IsZero() {
		t = time.Now()
	}
	m.GeneratedAt = t.UTC().Format("2006-01-02T15:04:05.000Z")
	m.DangerousPorts = o.DangerousPorts
	if m.DangerousPorts == nil {
		m.DangerousPorts = DefaultDangerousPorts
	}
	m.DNSServers = append([]string{}, o.DNSServers...)
	m.SSLBumpEnabled, m.DLPEnabled, m.HostAccessEnabled = o.SSLBump, o.DLP, o.HostAccess
	if o.AllowHostPorts != "" {
		s := o.AllowHostPorts
		m.AllowHostPorts = &s
	}
	m.HostAccess, m.CLIProxy = o.HostInfo, o.CLIProxy
	m.Inspection = o.Inspection
	m.IgnoredEntries = o.Ignored
	return m
}

// WritePolicyManifest writes policy-manifest.json at path (its directory is
// created 0700 if missing, like the original's audit dir).
func WritePolicyManifest(path string, rules []Rule, o ManifestOptions) error {
	b, err := json.MarshalIndent(NewManifest(rules, o), "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadManifest reads and checks a policy-manifest.json.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(m.Rules) == 0 {
		return nil, fmt.Errorf("%s: no rules", path)
	}
	return &m, nil
}

// ManifestCandidates lists, in order, where the manifest of the logs in dir
// is looked for: next to them, in ../audit, in the preserved twin
// /tmp/awf-audit-<ts>, then $AWF_AUDIT_DIR (last, to avoid pairing logs
// with another run's policy).
func ManifestCandidates(dir, auditDirEnv string) []string {
	const name = "policy-manifest.json"
	c := []string{
		filepath.Join(dir, name),
		filepath.Join(dir, "..", "audit", name),
	}
	if strings.Contains(dir, "squid-logs-") {
		c = append(c, filepath.Join(strings.Replace(dir, "squid-logs-", "awf-audit-", 1), name))
	}
	if auditDirEnv != "" {
		c = append(c, filepath.Join(auditDirEnv, name))
	}
	return c
}

// FindManifest loads the first readable manifest for dir, or nil.
func FindManifest(dir, auditDirEnv string) (*Manifest, string) {
	for _, p := range ManifestCandidates(dir, auditDirEnv) {
		if m, err := ReadManifest(p); err == nil {
			return m, p
		}
	}
	return nil, ""
}

// UnknownRule is the id given to entries no rule explains.
const UnknownRule = "unknown"

// Attribution names the rule that decided an entry.
type Attribution struct {
	RuleID string
	Reason string // the rule's description, as the original reports it
}

type compiledRule struct {
	Rule
	regex []*regexp.Regexp // nil for plain rules
	plain []string
}

var regexMeta = regexp.MustCompile(`[\\^$*+?{}()\[\]|]`)

// Attributor replays the manifest's rules over log entries. When the egress
// proxy recorded the deciding rule itself (awf's audit.jsonl has `rule`),
// that is taken as is; otherwise the rule is inferred as the original does:
// first rule in order whose protocol and domains match and whose action
// equals the observed outcome; deny-default ("all") takes every denial.
type Attributor struct {
	m     *Manifest
	rules []compiledRule
	byID  map[string]*Rule
	cache map[attrKey]Attribution
}

type attrKey struct {
	domain       string
	https, allow bool
}

// attrCacheMax bounds the cache (about 100 bytes an entry) while covering
// the distinct names of any realistic run.
const attrCacheMax = 1 << 15

func NewAttributor(m *Manifest) *Attributor {
	a := &Attributor{m: m, byID: map[string]*Rule{}, cache: map[attrKey]Attribution{}}
	for i := range m.Rules {
		a.byID[m.Rules[i].ID] = &m.Rules[i]
		cr := compiledRule{Rule: m.Rules[i]}
		isRegex := strings.Contains(cr.ACLName, "regex")
		for _, d := range cr.Domains {
			if regexMeta.MatchString(d) {
				isRegex = true
			}
		}
		for _, d := range cr.Domains {
			if isRegex {
				if re, err := regexp.Compile("(?i)" + d); err == nil {
					cr.regex = append(cr.regex, re)
				}
			} else {
				cr.plain = append(cr.plain, strings.ToLower(d))
			}
		}
		if isRegex && cr.regex == nil {
			cr.regex = []*regexp.Regexp{} // regex rule whose patterns all failed: matches nothing
		}
		a.rules = append(a.rules, cr)
	}
	sort.SliceStable(a.rules, func(i, j int) bool { return a.rules[i].Order < a.rules[j].Order })
	return a
}

// Attribute returns the rule behind e.
func (a *Attributor) Attribute(e *Entry) Attribution {
	if e.Rule != "" {
		if r, ok := a.byID[e.Rule]; ok {
			return Attribution{RuleID: r.ID, Reason: r.Description}
		}
		reason := e.Reason
		if reason == "" {
			reason = e.Rule
		}
		return Attribution{RuleID: e.Rule, Reason: reason}
	}
	k := attrKey{e.Domain, e.IsHTTPS, e.IsAllowed}
	if at, ok := a.cache[k]; ok {
		return at
	}
	at := a.replay(e)
	if len(a.cache) < attrCacheMax {
		k.domain = strings.Clone(k.domain) // do not pin the whole log line
		a.cache[k] = at
	}
	return at
}

func (a *Attributor) replay(e *Entry) Attribution {
	want := "deny"
	if e.IsAllowed {
		want = "allow"
	}
	for i := range a.rules {
		r := &a.rules[i]
		if !protocolMatches(r.Protocol, e.IsHTTPS) {
			continue
		}
		if r.ACLName == "all" {
			if want == "deny" {
				return Attribution{RuleID: r.ID, Reason: r.Description}
			}
			continue
		}
		if len(r.Domains) == 0 || !r.matches(e.Domain) {
			continue
		}
		if r.Action == want {
			return Attribution{RuleID: r.ID, Reason: r.Description}
		}
	}
	if e.IsAllowed {
		return Attribution{RuleID: UnknownRule, Reason: "Allowed (rule not identified)"}
	}
	return Attribution{RuleID: UnknownRule, Reason: "Denied (rule not identified)"}
}

func protocolMatches(p string, https bool) bool {
	return p == "both" || (p == "https" && https) || (p == "http" && !https)
}

func (r *compiledRule) matches(domain string) bool {
	if domain == "" || domain == "-" {
		return false
	}
	d := strings.ToLower(domain)
	if r.regex != nil {
		for _, re := range r.regex {
			if re.MatchString(d) {
				return true
			}
		}
		return false
	}
	for _, p := range r.plain {
		if strings.HasPrefix(p, ".") {
			if d == p[1:] || strings.HasSuffix(d, p) {
				return true
			}
		} else if d == p {
			return true
		}
	}
	return false
}

// RuleStat is the hit count of one rule.
type RuleStat struct {
	RuleID      string `json:"ruleId"`
	Description string `json:"description"`
	Action      string `json:"action"`
	Hits        int64  `json:"hits"`
}

// RuleCounter counts attributed hits per rule.
type RuleCounter map[string]int64

// Stats lists every manifest rule in manifest order with its hits, plus an
// "unknown" row when some hits could not be attributed, so that the rows
// add up to the total. Rule ids recorded by the egress proxy that the
// manifest lacks get their own rows.
func (c RuleCounter) Stats(m *Manifest) []RuleStat {
	out := make([]RuleStat, 0, len(m.Rules)+1)
	seen := map[string]bool{}
	for _, r := range m.Rules {
		seen[r.ID] = true
		out = append(out, RuleStat{RuleID: r.ID, Description: r.Description, Action: r.Action, Hits: c[r.ID]})
	}
	var extra []string
	for id := range c {
		if !seen[id] && id != UnknownRule {
			extra = append(extra, id)
		}
	}
	sort.Strings(extra)
	for _, id := range extra {
		action := "deny"
		if strings.HasPrefix(id, "allow") {
			action = "allow"
		}
		out = append(out, RuleStat{RuleID: id, Description: "Rule recorded by the egress proxy (not in the manifest)", Action: action, Hits: c[id]})
	}
	if n := c[UnknownRule]; n > 0 {
		out = append(out, RuleStat{RuleID: UnknownRule,
			Description: "Unattributed traffic (port/method-based rules not replayable from logs)",
			Action:      "deny", Hits: n})
	}
	return out
}
