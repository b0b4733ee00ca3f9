package logs

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Audit errors, as the original prints them.
var (
	ErrNoEntries  = errors.New("No log entries found.")
	ErrNoManifest = errors.New("No policy-manifest.json found. The audit command requires a policy manifest.\n" +
		"Ensure you are using a version of awf that generates audit artifacts (--audit-dir).")
)

// CheckDecision validates --decision.
func CheckDecision(d string) error {
	if d == "" || d == "allowed" || d == "denied" {
		return nil
	}
	return fmt.Errorf(`Invalid decision filter: %s. Must be "allowed" or "denied".`, d)
}

// AuditFilter selects entries: Rule exact, Domain a case-insensitive
// substring, Decision "allowed" or "denied"; empty fields match all.
type AuditFilter struct {
	Rule, Domain, Decision string
}

func (f AuditFilter) match(e *Entry, at Attribution) bool {
	if f.Rule != "" && at.RuleID != f.Rule {
		return false
	}
	if f.Domain != "" && !strings.Contains(strings.ToLower(e.Domain), strings.ToLower(f.Domain)) {
		return false
	}
	if f.Decision != "" && e.IsAllowed != (f.Decision == "allowed") {
		return false
	}
	return !e.Benign()
}

// AuditItem is one element of `awf logs audit --format json`. Reason is
// awf's addition: the egress proxy's own reason, when it recorded one.
type AuditItem struct {
	Timestamp   float64 `json:"timestamp"`
	Domain      string  `json:"domain"`
	Method      string  `json:"method"`
	Status      int     `json:"status"`
	Decision    string  `json:"decision"`
	MatchedRule string  `json:"matchedRule"`
	MatchReason string  `json:"matchReason"`
	URL         string  `json:"url"`
	Reason      string  `json:"reason,omitempty"`
}

// auditDenied keeps the first denied entries, which is all the text
// reports show, and counts the rest.
type auditDenied struct {
	keep  int
	items []AuditItem
	total int
}

// Audit streams the entries of src through the attribution and the filter.
// JSON is written as it goes (the array never sits in memory); pretty and
// markdown need only rule counts and the first denials. It returns
// ErrNoEntries when the log holds nothing.
func Audit(w io.Writer, src Source, m *Manifest, f AuditFilter, format string, color bool) ([]ParseReport, error) {
	attr := NewAttributor(m)
	counter := RuleCounter{}
	denied := auditDenied{keep: 20}
	if format == FormatMarkdown {
		denied.keep = 50
	}
	var jw *jsonArrayWriter
	if format == FormatJSON {
		jw = &jsonArrayWriter{w: w}
	}
	seen := 0
	var werr error
	reps, err := ScanSource(src, func(e *Entry) {
		seen++
		at := attr.Attribute(e)
		if !f.match(e, at) {
			return
		}
		counter[at.RuleID]++
		item := auditItem(e, at)
		if !e.IsAllowed {
			denied.total++
			if len(denied.items) < denied.keep {
				denied.items = append(denied.items, item)
			}
		}
		if jw != nil && werr == nil {
			werr = jw.add(item)
		}
	})
	if err != nil {
		return reps, err
	}
	if seen == 0 {
		return reps, ErrNoEntries
	}
	if werr != nil {
		return reps, werr
	}
	switch format {
	case FormatJSON:
		return reps, jw.close()
	case FormatMarkdown:
		_, err = io.WriteString(w, auditMarkdown(counter.Stats(m), m, denied)+"\n")
	default:
		_, err = io.WriteString(w, auditPretty(counter.Stats(m), denied, color)+"\n")
	}
	return reps, err
}

func auditItem(e *Entry, at Attribution) AuditItem {
	d := "denied"
	if e.IsAllowed {
		d = "allowed"
	}
	it := AuditItem{Timestamp: e.Timestamp, Domain: e.Domain, Method: e.Method, Status: e.StatusCode,
		Decision: d, MatchedRule: at.RuleID, MatchReason: at.Reason, URL: e.URL}
	if e.Reason != "" && e.Reason != at.Reason {
		it.Reason = e.Reason
	}
	return it
}

// jsonArrayWriter writes the same text as JSON.stringify(array, null, 2).
type jsonArrayWriter struct {
	w io.Writer
	n int
}

func (j *jsonArrayWriter) add(v any) error {
	raw, err := marshalNoEscape(v)
	if err != nil {
		return err
	}
	s, err := indent2(raw)
	if err != nil {
		return err
	}
	sep := ",\n  "
	if j.n == 0 {
		sep = "[\n  "
	}
	j.n++
	_, err = io.WriteString(j.w, sep+strings.ReplaceAll(s, "\n", "\n  "))
	return err
}

func (j *jsonArrayWriter) close() error {
	end := "\n]\n"
	if j.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(j.w, end)
	return err
}

func onOff(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

// hostAccessDetail adds awf's host-access and CLI-proxy facts to the
// Host Access line.
func hostAccessDetail(m *Manifest) string {
	s := ""
	if h := m.HostAccess; h != nil {
		s = fmt.Sprintf(" (%s → %s; ports %s)", h.Name, strings.Join(h.Addresses, ", "), strings.Join(h.Ports, ", "))
	}
	if c := m.CLIProxy; c != nil {
		s += fmt.Sprintf("\n- **CLI Proxy**: enabled (%s → DIFC proxy %s)", c.URL, c.DIFCProxy)
	}
	return s
}

// inspectionDetail adds what TLS inspection looks at to the SSL Bump line.
func inspectionDetail(m *Manifest) string {
	in := m.Inspection
	if in == nil {
		return ""
	}
	s := " (inspected hosts: none; every host tunnelled)"
	if len(in.InspectedHosts) > 0 || len(in.Hooks) > 0 {
		s = fmt.Sprintf(" (hooks: %s; inspected hosts: %s)", orNone(in.Hooks), orNone(in.InspectedHosts))
	}
	for _, r := range in.URLRules {
		s += fmt.Sprintf("\n  - URL rule `%s` → `%s`", r.Pattern, r.Regex)
	}
	return s
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

func auditMarkdown(rules []RuleStat, m *Manifest, d auditDenied) string {
	l := []string{"## Firewall Audit Report\n", "### Active Policy\n",
		"- **SSL Bump**: " + onOff(m.SSLBumpEnabled) + inspectionDetail(m),
		"- **DLP**: " + onOff(m.DLPEnabled),
		"- **Host Access**: " + onOff(m.HostAccessEnabled) + hostAccessDetail(m),
		"- **DNS Servers**: " + strings.Join(m.DNSServers, ", "),
		fmt.Sprintf("- **Dangerous Ports Blocked**: %d ports\n", len(m.DangerousPorts)),
		"### Rule Evaluation\n",
		"| Rule | Action | Hits | Description |",
		"|------|--------|------|-------------|",
	}
	for _, r := range rules {
		hits := "0"
		if r.Hits > 0 {
			hits = fmt.Sprintf("**%d**", r.Hits)
		}
		l = append(l, fmt.Sprintf("| %s | %s %s | %s | %s |", r.RuleID, actionEmoji(r.Action), r.Action, hits, r.Description))
	}
	if d.total > 0 {
		l = append(l, "\n### Denied Requests\n", "| Timestamp | Domain | Rule | Reason |", "|-----------|--------|------|--------|")
		for _, it := range d.items {
			reason := it.MatchReason
			if it.Reason != "" {
				reason += " (" + it.Reason + ")"
			}
			l = append(l, fmt.Sprintf("| %s | %s | %s | %s |", isoMillis(it.Timestamp), mdEscape(it.Domain), it.MatchedRule, mdEscape(reason)))
		}
		if d.total > len(d.items) {
			l = append(l, fmt.Sprintf("\n_...and %d more denied requests_", d.total-len(d.items)))
		}
	}
	return strings.Join(l, "\n")
}

func auditPretty(rules []RuleStat, d auditDenied, color bool) string {
	c := palette{color}
	l := []string{c.bold("Firewall Audit Report"), c.gray(strings.Repeat("─", 60)), "", c.bold("Rule Evaluation:")}
	l = append(l, ruleLines(rules, c, true)...)
	if d.total > 0 {
		l = append(l, "", c.bold(fmt.Sprintf("Denied Requests (%d):", d.total)))
		for _, it := range d.items {
			l = append(l, fmt.Sprintf("  %s  %s  %s", c.gray(isoMillis(it.Timestamp)[11:23]), c.red(it.Domain), c.gray("→ "+it.MatchedRule)))
		}
		if d.total > len(d.items) {
			l = append(l, c.gray(fmt.Sprintf("  ...and %d more", d.total-len(d.items))))
		}
	}
	l = append(l, "")
	return strings.Join(l, "\n")
}
