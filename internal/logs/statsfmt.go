package logs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// marshalNoEscape is json.Marshal without HTML escaping, as JSON.stringify.
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// orderedObject builds a JSON object whose keys keep insertion order.
type orderedObject struct {
	b   bytes.Buffer
	err error
}

func (o *orderedObject) add(key string, v any) {
	if o.err != nil {
		return
	}
	var raw []byte
	if r, ok := v.(json.RawMessage); ok {
		raw = r
	} else {
		raw, o.err = marshalNoEscape(v)
	}
	k, _ := marshalNoEscape(key)
	if o.b.Len() == 0 {
		o.b.WriteByte('{')
	} else {
		o.b.WriteByte(',')
	}
	o.b.Write(k)
	o.b.WriteByte(':')
	o.b.Write(raw)
}

func (o *orderedObject) raw() (json.RawMessage, error) {
	if o.b.Len() == 0 {
		return json.RawMessage("{}"), o.err
	}
	return json.RawMessage(o.b.String() + "}"), o.err
}

// indent2 formats like JSON.stringify(v, null, 2).
func indent2(raw []byte) (string, error) {
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return "", err
	}
	return out.String(), nil
}

// FormatStatsJSON renders the original's stats object with awf's additions:
// bytesIn/bytesOut (overall and per domain, when the egress proxy recorded
// them), tokenUsage (when token-usage.jsonl was found) and malformedLines.
// byDomain keeps the order of the other formats (busiest first).
func FormatStatsJSON(s *Stats) (string, error) {
	var byDomain orderedObject
	for _, d := range s.ByDomain {
		byDomain.add(d.Domain, d)
	}
	bd, err := byDomain.raw()
	if err != nil {
		return "", err
	}
	var o orderedObject
	o.add("totalRequests", s.TotalRequests)
	o.add("allowedRequests", s.AllowedRequests)
	o.add("deniedRequests", s.DeniedRequests)
	o.add("uniqueDomains", s.UniqueDomains)
	o.add("timeRange", s.TimeRange)
	o.add("byDomain", bd)
	if s.ByRule != nil {
		o.add("byRule", s.ByRule)
	}
	if s.HasBytes {
		o.add("bytesIn", s.BytesIn)
		o.add("bytesOut", s.BytesOut)
	}
	if s.TokenUsage != nil {
		o.add("tokenUsage", s.TokenUsage)
	}
	if s.Budget != nil {
		o.add("budget", s.Budget)
	}
	if len(s.Ignored) > 0 {
		o.add("ignoredEntries", s.Ignored)
	}
	o.add("malformedLines", s.MalformedLines())
	raw, err := o.raw()
	if err != nil {
		return "", err
	}
	return indent2(raw)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (s *Stats) validDomains() []*DomainStats {
	out := make([]*DomainStats, 0, len(s.ByDomain))
	for _, d := range s.ByDomain {
		if d.Domain != "-" {
			out = append(out, d)
		}
	}
	return out
}

// FormatStatsMarkdown renders the step summary: the original's collapsible
// "Firewall Activity" block (with bytes columns when known: Sent is
// audit.jsonl's bytes_in, agent to upstream; Received is bytes_out) and, when the
// api-proxy logged usage, an "LLM Token Usage" block.
func FormatStatsMarkdown(s *Stats) string {
	var l []string
	valid := s.validDomains()
	domainText := fmt.Sprintf("%d unique %s", s.UniqueDomains, plural(int64(s.UniqueDomains), "domain", "domains"))
	if len(valid) != s.UniqueDomains {
		domainText += fmt.Sprintf(" (%d valid)", len(valid))
	}
	// Ignored allowlist entries go first, outside the collapsed block: a
	// host the user thinks is allowed is denied, and the summary says why.
	for _, e := range s.Ignored {
		l = append(l, "> ⚠️ "+mdEscape(e.Warning()))
	}
	if len(s.Ignored) > 0 {
		l = append(l, "")
	}
	l = append(l, "<details>", "<summary>Firewall Activity</summary>\n")
	l = append(l, fmt.Sprintf("▼ %d %s | %d allowed | %d blocked | %s\n",
		s.TotalRequests, plural(s.TotalRequests, "request", "requests"),
		s.AllowedRequests, s.DeniedRequests, domainText))
	switch {
	case s.UniqueDomains == 0:
		l = append(l, "No firewall activity detected.")
	case len(valid) == 0:
		l = append(l, "No valid domain activity detected.")
	case s.HasBytes:
		l = append(l, "| Domain | Allowed | Denied | Sent | Received |",
			"|--------|---------|--------|------|----------|")
		for _, d := range valid {
			l = append(l, fmt.Sprintf("| %s | %d | %d | %s | %s |", mdEscape(d.Domain), d.Allowed, d.Denied, humanBytes(*d.BytesIn), humanBytes(*d.BytesOut)))
		}
	default:
		l = append(l, "| Domain | Allowed | Denied |", "|--------|---------|--------|")
		for _, d := range valid {
			l = append(l, fmt.Sprintf("| %s | %d | %d |", mdEscape(d.Domain), d.Allowed, d.Denied))
		}
	}
	if len(s.ByRule) > 0 {
		l = append(l, "", "<details>", "<summary>Policy Rules</summary>\n",
			"| Rule | Action | Hits | Description |", "|------|--------|------|-------------|")
		for _, r := range s.ByRule {
			l = append(l, fmt.Sprintf("| %s | %s %s | %d | %s |", r.RuleID, actionEmoji(r.Action), r.Action, r.Hits, r.Description))
		}
		l = append(l, "\n</details>")
	}
	l = append(l, "\n</details>\n")
	if n := s.MalformedLines(); n > 0 {
		l = append(l, fmt.Sprintf("> ⚠️ %d malformed log %s skipped.\n", n, plural(int64(n), "line was", "lines were")))
	}
	if s.TokenUsage != nil {
		l = append(l, tokenMarkdown(s.TokenUsage))
	}
	if s.Budget != nil {
		l = append(l, budgetMarkdown(s.Budget))
	}
	return strings.Join(l, "\n")
}

func actionEmoji(a string) string {
	if a == "allow" {
		return "✅"
	}
	return "🚫"
}

// mdEscape keeps a logged name from breaking a table row.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
}

func tokenMarkdown(u *TokenUsage) string {
	t := u.Total
	l := []string{"<details>", "<summary>LLM Token Usage</summary>\n",
		fmt.Sprintf("▼ %d %s | %s input | %s output | %s cache read | %s cache write tokens | %s\n",
			t.Calls, plural(t.Calls, "call", "calls"), thousands(t.InputTokens), thousands(t.OutputTokens),
			thousands(t.CacheReadTokens), thousands(t.CacheWriteTokens), seconds(t.DurationMs)),
	}
	if len(u.ByModel) > 0 {
		l = append(l, "| Provider | Model | Calls | Input | Output | Cache read | Cache write | Time |",
			"|----------|-------|-------|-------|--------|------------|-------------|------|")
		for _, m := range u.ByModel {
			l = append(l, fmt.Sprintf("| %s | %s | %d | %s | %s | %s | %s | %s |", mdEscape(m.Provider), mdEscape(m.Model), m.Calls,
				thousands(m.InputTokens), thousands(m.OutputTokens), thousands(m.CacheReadTokens), thousands(m.CacheWriteTokens), seconds(m.DurationMs)))
		}
	}
	l = append(l, "\n</details>\n")
	return strings.Join(l, "\n")
}

func isoMillis(ts float64) string {
	e := Entry{Timestamp: ts}
	return e.Time().Format("2006-01-02T15:04:05.000Z")
}

// FormatStatsPretty renders the terminal view.
func FormatStatsPretty(s *Stats, color bool) string {
	c := palette{color}
	var l []string
	l = append(l, c.bold("Firewall Statistics"), c.gray(strings.Repeat("─", 40)), "")
	for _, e := range s.Ignored {
		l = append(l, c.red("⚠ "+e.Warning()))
	}
	if len(s.Ignored) > 0 {
		l = append(l, "")
	}
	pct := func(n int64) string {
		if s.TotalRequests == 0 {
			return "0.0"
		}
		return fmt.Sprintf("%.1f", float64(n)/float64(s.TotalRequests)*100)
	}
	l = append(l,
		fmt.Sprintf("Total Requests:  %d", s.TotalRequests),
		fmt.Sprintf("Allowed:         %s (%s%%)", c.green(fmt.Sprint(s.AllowedRequests)), pct(s.AllowedRequests)),
		fmt.Sprintf("Denied:          %s (%s%%)", c.red(fmt.Sprint(s.DeniedRequests)), pct(s.DeniedRequests)),
		fmt.Sprintf("Unique Domains:  %d", s.UniqueDomains))
	if s.HasBytes {
		l = append(l, fmt.Sprintf("Bytes:           %s sent, %s received", humanBytes(s.BytesIn), humanBytes(s.BytesOut)))
	}
	if s.TimeRange != nil {
		l = append(l, "", c.gray(fmt.Sprintf("Time Range: %s - %s", isoMillis(s.TimeRange.Start), isoMillis(s.TimeRange.End))))
	}
	if s.UniqueDomains > 0 {
		l = append(l, "", c.bold("Domains:"))
		valid := s.validDomains()
		width := 0
		for _, d := range valid {
			width = max(width, len(d.Domain))
		}
		for _, d := range valid {
			denied := c.gray(fmt.Sprintf("%d denied", d.Denied))
			if d.Denied > 0 {
				denied = c.red(fmt.Sprintf("%d denied", d.Denied))
			}
			line := fmt.Sprintf("  %-*s%s, %s", width+2, d.Domain, c.green(fmt.Sprintf("%d allowed", d.Allowed)), denied)
			if d.BytesIn != nil {
				line += c.gray(fmt.Sprintf("  (%s sent, %s received)", humanBytes(*d.BytesIn), humanBytes(*d.BytesOut)))
			}
			l = append(l, line)
		}
	}
	if len(s.ByRule) > 0 {
		l = append(l, c.bold("Policy Rules:"))
		l = append(l, ruleLines(s.ByRule, c, false)...)
		l = append(l, "")
	}
	if s.TokenUsage != nil {
		l = append(l, "", c.bold("Token Usage:"))
		t := s.TokenUsage.Total
		l = append(l, fmt.Sprintf("  %d %s, %s input, %s output, %s cache read, %s cache write tokens, %s",
			t.Calls, plural(t.Calls, "call", "calls"), thousands(t.InputTokens), thousands(t.OutputTokens),
			thousands(t.CacheReadTokens), thousands(t.CacheWriteTokens), seconds(t.DurationMs)))
		for _, m := range s.TokenUsage.ByModel {
			l = append(l, fmt.Sprintf("  %s/%s: %d %s, %s in, %s out, %s cache read, %s cache write, %s",
				m.Provider, m.Model, m.Calls, plural(m.Calls, "call", "calls"), thousands(m.InputTokens), thousands(m.OutputTokens),
				thousands(m.CacheReadTokens), thousands(m.CacheWriteTokens), seconds(m.DurationMs)))
		}
	}
	if s.Budget != nil {
		l = append(l, "", c.bold("Budgets:"))
		for _, b := range s.Budget.Lines() {
			l = append(l, "  "+b)
		}
	}
	l = append(l, "")
	return strings.Join(l, "\n")
}

// ruleLines renders "  <id>  <action>  <hits> hits  <description>".
func ruleLines(rules []RuleStat, c palette, boldHits bool) []string {
	width := 0
	for _, r := range rules {
		width = max(width, len(r.RuleID))
	}
	var l []string
	for _, r := range rules {
		action := c.red(r.Action)
		if r.Action == "allow" {
			action = c.green(r.Action)
		}
		hits := c.gray("0")
		if r.Hits > 0 {
			hits = fmt.Sprint(r.Hits)
			if boldHits {
				hits = c.bold(hits)
			}
		}
		l = append(l, fmt.Sprintf("  %-*s%s  %s hits  %s", width+2, r.RuleID, action, hits, c.gray(r.Description)))
	}
	return l
}

// FormatStats dispatches on the format.
func FormatStats(s *Stats, format string, color bool) (string, error) {
	switch format {
	case FormatJSON:
		return FormatStatsJSON(s)
	case FormatMarkdown:
		return FormatStatsMarkdown(s), nil
	default:
		return FormatStatsPretty(s, color), nil
	}
}
