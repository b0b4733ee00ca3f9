// Package logs reads what a run leaves behind — the egress proxy's access.log
// and audit.jsonl, the api-proxy's token-usage.jsonl and the policy manifest —
// and turns it into the views of `awf logs`: a pretty or JSON stream, stats,
// a step summary, a rule-attributed audit and the "blocked after a failed
// run" report. Every reader streams line by line so memory stays bounded by
// the number of distinct domains, not by the size of the log.
package logs

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Entry is one request as logged by the egress proxy. The JSON names are the
// original's `awf logs --format json` keys; the fields without a JSON name
// come only from audit.jsonl and feed stats and the audit.
type Entry struct {
	Timestamp  float64 `json:"timestamp"`
	ClientIP   string  `json:"clientIp"`
	ClientPort string  `json:"clientPort"`
	Host       string  `json:"host"`
	DestIP     string  `json:"destIp"`
	DestPort   string  `json:"destPort"`
	Protocol   string  `json:"protocol"`
	Method     string  `json:"method"`
	StatusCode int     `json:"statusCode"`
	Decision   string  `json:"decision"`
	URL        string  `json:"url"`
	UserAgent  string  `json:"userAgent"`
	Domain     string  `json:"domain"`
	IsAllowed  bool    `json:"isAllowed"`
	IsHTTPS    bool    `json:"isHttps"`

	// Set by --with-pid when the connection could be mapped to a process.
	PID     *int   `json:"pid,omitempty"`
	Cmdline string `json:"cmdline,omitempty"`
	Comm    string `json:"comm,omitempty"`
	Inode   string `json:"inode,omitempty"`

	HasBytes   bool   `json:"-"`
	BytesIn    int64  `json:"-"`
	BytesOut   int64  `json:"-"`
	DurationMs int64  `json:"-"`
	Rule       string `json:"-"` // rule id the egress proxy recorded, if any
	Reason     string `json:"-"` // reason the egress proxy recorded, if any
}

// benignURL marks squid's record of a connection closed before any request
// (health checks, keep-alive closes): counted in the time range, nowhere else.
const benignURL = "error:transaction-end-before-headers"

// Benign reports whether e is operational noise rather than a request.
func (e *Entry) Benign() bool { return e.URL == benignURL }

// Time returns the entry's timestamp as a time, rounded to the millisecond
// the log recorded (floats like 1774290908.910 are not exact).
func (e *Entry) Time() time.Time {
	return time.UnixMilli(int64(math.Round(e.Timestamp * 1000))).UTC()
}

var errMalformed = errors.New("malformed line")

func isAllowedDecision(d string) bool {
	return d != "" && !strings.HasPrefix(d, "TCP_DENIED") && !strings.HasPrefix(d, "NONE")
}

// ParseAccessLine parses one line of squid's firewall_detailed format:
//
//	ts client_ip:port host dest_ip:port version method status code:hier url "UA"
//
// It accepts what the original's pattern accepts and also bracketed IPv6
// clients. Surrounding white space is ignored.
func ParseAccessLine(line string) (Entry, error) {
	var e Entry
	rest := strings.TrimSpace(line)
	var f [9]string
	for i := range f {
		var ok bool
		f[i], rest, ok = cutField(rest)
		if !ok {
			return e, errMalformed
		}
	}
	if !strings.HasPrefix(rest, `"`) {
		return e, errMalformed
	}
	end := strings.IndexByte(rest[1:], '"')
	if end < 0 {
		return e, errMalformed
	}
	e.UserAgent = rest[1 : 1+end]

	if !isDecimalTimestamp(f[0]) {
		return e, errMalformed
	}
	ts, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return e, errMalformed
	}
	e.Timestamp = ts
	var ok bool
	// "-:-" is what a proxy writes when it has no client address.
	if e.ClientIP, e.ClientPort, ok = splitLast(f[1]); !ok || e.ClientIP == "" || !(allDigits(e.ClientPort) || f[1] == "-:-") {
		return e, errMalformed
	}
	e.Host = f[2]
	if e.DestIP, e.DestPort, ok = splitLast(f[3]); !ok || e.DestIP == "" || e.DestPort == "" {
		return e, errMalformed
	}
	e.Protocol, e.Method = f[4], f[5]
	if !allDigits(f[6]) {
		return e, errMalformed
	}
	e.StatusCode, _ = strconv.Atoi(f[6])
	e.Decision, e.URL = f[7], f[8]
	e.finish()
	return e, nil
}

// auditLine is audit.jsonl as the original writes it, plus the fields awf's
// egress proxy adds. Pointers tell "absent" from zero.
type auditLine struct {
	TS         *float64 `json:"ts"`
	Client     *string  `json:"client"`
	Host       *string  `json:"host"`
	Dest       *string  `json:"dest"`
	Method     *string  `json:"method"`
	Status     *int     `json:"status"`
	Decision   *string  `json:"decision"`
	URL        *string  `json:"url"`
	BytesIn    *int64   `json:"bytes_in"`
	BytesOut   *int64   `json:"bytes_out"`
	DurationMs *float64 `json:"duration_ms"`
	Rule       *string  `json:"rule"`
	Reason     *string  `json:"reason"`
}

// auditFields is an audit line reduced to what Entry needs.
type auditFields struct {
	TS                                        float64
	Status                                    int
	Client, Host, Dest, Method, Decision, URL string
	Rule, Reason                              string
	HasBytes                                  bool
	BytesIn, BytesOut, DurationMs             int64
}

func (a *auditLine) fields() auditFields {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	f := auditFields{Client: str(a.Client), Host: str(a.Host), Dest: str(a.Dest), Method: str(a.Method),
		Decision: str(a.Decision), URL: str(a.URL), Rule: str(a.Rule), Reason: str(a.Reason)}
	if a.TS != nil {
		f.TS = *a.TS
	}
	if a.Status != nil {
		f.Status = *a.Status
	}
	if a.BytesIn != nil || a.BytesOut != nil {
		f.HasBytes = true
		if a.BytesIn != nil {
			f.BytesIn = *a.BytesIn
		}
		if a.BytesOut != nil {
			f.BytesOut = *a.BytesOut
		}
	}
	if a.DurationMs != nil {
		f.DurationMs = int64(*a.DurationMs)
	}
	return f
}

// ParseAuditLine parses one audit.jsonl line. Missing fields become "-" or
// zero as in the original; a line that is not a JSON object is malformed.
func ParseAuditLine(line []byte) (Entry, error) {
	var e Entry
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return e, errMalformed
	}
	var a auditFields
	if !parseFlatAudit(string(line), &a) {
		var al auditLine
		if err := json.Unmarshal(line, &al); err != nil {
			return e, errMalformed
		}
		a = al.fields()
	}
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	e.Timestamp, e.StatusCode = a.TS, a.Status
	e.ClientIP = or(a.Client, "-")
	e.ClientPort, e.Protocol, e.UserAgent = "-", "-", "-"
	e.Host = or(a.Host, "-")
	e.Method, e.Decision, e.URL = a.Method, a.Decision, a.URL
	e.DestIP, e.DestPort = splitDest(a.Dest)
	e.HasBytes, e.BytesIn, e.BytesOut, e.DurationMs = a.HasBytes, a.BytesIn, a.BytesOut, a.DurationMs
	e.Rule, e.Reason = a.Rule, a.Reason
	e.finish()
	return e, nil
}

func (e *Entry) finish() {
	e.IsAllowed = isAllowedDecision(e.Decision)
	e.IsHTTPS = e.Method == "CONNECT"
	e.Domain = ExtractDomain(e.URL, e.Host, e.Method)
}

// splitDest splits "ip:port", "[v6]:port" or "-:-" as the original does.
func splitDest(d string) (ip, port string) {
	ip, port = "-", "-"
	if d == "" || d == "-:-" {
		return
	}
	if strings.HasPrefix(d, "[") {
		close := strings.IndexByte(d, ']')
		if close < 0 {
			return d, "-"
		}
		if v := d[1:close]; v != "" {
			ip = v
		}
		if r := d[close+1:]; strings.HasPrefix(r, ":") && allDigits(r[1:]) {
			port = r[1:]
		}
		return
	}
	i := strings.LastIndexByte(d, ':')
	if i < 0 || !allDigits(d[i+1:]) {
		return d, "-"
	}
	if d[:i] != "" {
		ip = d[:i]
	}
	return ip, d[i+1:]
}

// ExtractDomain names the destination: for CONNECT the url without its
// port, otherwise the Host header without its port, otherwise the url's host.
func ExtractDomain(rawURL, host, method string) string {
	if method == "CONNECT" {
		return stripPort(rawURL)
	}
	if host != "" && host != "-" {
		return stripPort(host)
	}
	u := rawURL
	if !strings.HasPrefix(u, "http") {
		u = "http://" + u
	}
	if p, err := url.Parse(u); err == nil && p.Hostname() != "" {
		return strings.ToLower(p.Hostname())
	}
	return rawURL
}

// PortOf returns the explicit numeric port of a CONNECT target, or "".
func PortOf(target string) string {
	if i := strings.LastIndexByte(target, ':'); i >= 0 && allDigits(target[i+1:]) {
		return target[i+1:]
	}
	return ""
}

func stripPort(s string) string {
	if i := strings.LastIndexByte(s, ':'); i >= 0 && allDigits(s[i+1:]) {
		return s[:i]
	}
	return s
}

func cutField(s string) (field, rest string, ok bool) {
	i := strings.IndexAny(s, " \t")
	if i <= 0 {
		return "", "", false
	}
	field = s[:i]
	rest = strings.TrimLeft(s[i:], " \t")
	return field, rest, true
}

func splitLast(s string) (a, b string, ok bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isDecimalTimestamp(s string) bool {
	a, b, ok := strings.Cut(s, ".")
	return ok && allDigits(a) && allDigits(b)
}
