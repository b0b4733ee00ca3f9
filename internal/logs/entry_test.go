package logs

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseAccessLine(t *testing.T) {
	cases := []struct {
		name, line             string
		ok                     bool
		domain, port, decision string
		allowed, https         bool
	}{
		{"connect allowed", `1761074374.646 172.30.0.20:39748 api.github.com:443 140.82.114.22:443 1.1 CONNECT 200 TCP_TUNNEL:HIER_DIRECT api.github.com:443 "-"`, true, "api.github.com", "443", "TCP_TUNNEL:HIER_DIRECT", true, true},
		{"connect denied other port", `1760994429.358 172.30.0.20:36274 github.com:8443 -:- 1.1 CONNECT 403 TCP_DENIED:HIER_NONE github.com:8443 "curl/7.81.0"`, true, "github.com", "-", "TCP_DENIED:HIER_NONE", false, true},
		{"get uses host header", `1760994429.358 172.30.0.20:36274 Example.org:80 1.2.3.4:80 1.1 GET 200 TCP_MISS:HIER_DIRECT http://other.org/ "x y z"`, true, "Example.org", "80", "TCP_MISS:HIER_DIRECT", true, false},
		{"get without host uses url", `1760994429.358 172.30.0.20:36274 - 1.2.3.4:80 1.1 GET 200 TCP_MISS:HIER_DIRECT http://Other.org:8080/p "ua"`, true, "other.org", "80", "TCP_MISS:HIER_DIRECT", true, false},
		{"none is not allowed", `1760994429.358 172.30.0.20:1 - -:- - NONE 0 NONE:HIER_NONE error:transaction-end-before-headers "-"`, true, "error:transaction-end-before-headers", "-", "NONE:HIER_NONE", false, false},
		{"ipv6 client", `1.5 [2001:db8::1]:40000 a.test:443 -:- 1.1 CONNECT 403 TCP_DENIED:HIER_NONE a.test:443 "-"`, true, "a.test", "-", "TCP_DENIED:HIER_NONE", false, true},
		{"ua with spaces and trailing junk", `1.5 1.2.3.4:5 a.test:443 -:- 1.1 CONNECT 200 TCP_TUNNEL:HIER_DIRECT a.test:443 "Mozilla/5.0 (X11)" extra`, true, "a.test", "-", "TCP_TUNNEL:HIER_DIRECT", true, true},
		{"no fractional timestamp", `1761074374 172.30.0.20:39748 a:443 1.1.1.1:443 1.1 CONNECT 200 TCP_TUNNEL:HIER_DIRECT a:443 "-"`, false, "", "", "", false, false},
		{"status not numeric", `1.5 1.2.3.4:5 a:443 -:- 1.1 CONNECT OK TCP_TUNNEL:HIER_DIRECT a:443 "-"`, false, "", "", "", false, false},
		{"missing ua quotes", `1.5 1.2.3.4:5 a:443 -:- 1.1 CONNECT 200 TCP_TUNNEL:HIER_DIRECT a:443 -`, false, "", "", "", false, false},
		{"unterminated ua", `1.5 1.2.3.4:5 a:443 -:- 1.1 CONNECT 200 TCP_TUNNEL:HIER_DIRECT a:443 "abc`, false, "", "", "", false, false},
		{"truncated", `1.5 1.2.3.4:5 a:443 -:- 1.1 CONN`, false, "", "", "", false, false},
		{"empty", ``, false, "", "", "", false, false},
		{"binary", "\x00\x01\x02 \xff\xfe", false, "", "", "", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := ParseAccessLine(c.line)
			if (err == nil) != c.ok {
				t.Fatalf("ok=%v, err=%v", c.ok, err)
			}
			if !c.ok {
				return
			}
			if e.Domain != c.domain || e.DestPort != c.port || e.Decision != c.decision || e.IsAllowed != c.allowed || e.IsHTTPS != c.https {
				t.Errorf("got domain=%q port=%q decision=%q allowed=%v https=%v", e.Domain, e.DestPort, e.Decision, e.IsAllowed, e.IsHTTPS)
			}
		})
	}
}

func TestParseAuditLine(t *testing.T) {
	e, err := ParseAuditLine([]byte(`{"ts":1.25,"client":"10.0.0.1","host":"h.test:443","dest":"[2001:db8::5]:443","method":"CONNECT","status":200,"decision":"TCP_TUNNEL","url":"h.test:443","bytes_in":5,"bytes_out":7,"duration_ms":9,"rule":"allow-both-plain","reason":"allowed by h.test"}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.DestIP != "2001:db8::5" || e.DestPort != "443" || !e.HasBytes || e.BytesIn != 5 || e.BytesOut != 7 || e.DurationMs != 9 || e.Rule != "allow-both-plain" || !e.IsAllowed || e.Domain != "h.test" || e.ClientPort != "-" {
		t.Errorf("bad parse: %+v", e)
	}
	// The original's keys only: no bytes, missing fields default.
	e, err = ParseAuditLine([]byte(`{"ts":2,"method":"GET","url":"http://x.test/a","decision":"TCP_DENIED","dest":"-:-"}`))
	if err != nil || e.HasBytes || e.Domain != "x.test" || e.IsAllowed || e.DestIP != "-" || e.Host != "-" || e.ClientIP != "-" {
		t.Errorf("bad parse: %+v %v", e, err)
	}
	for _, bad := range []string{`[1,2]`, `"x"`, `{"ts":`, `{"ts":"notanumber"}`, `not json`, ``} {
		if _, err := ParseAuditLine([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestScanReportsBadLines(t *testing.T) {
	good := `1.5 1.2.3.4:5 a.test:443 -:- 1.1 CONNECT 200 TCP_TUNNEL:HIER_DIRECT a.test:443 "-"`
	long := strings.Repeat("x", MaxLineBytes+10)
	huge := strings.Repeat("y", 300<<10) // beyond the reader's buffer too
	in := strings.Join([]string{good, "junk", "", "  ", long, good, huge, good, good[:30]}, "\n")
	n := 0
	rep, err := ScanEntries(strings.NewReader(in), "mem", FormatAccessLog, func(*Entry) { n++ })
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 || rep.Parsed != 3 || rep.Malformed != 3 || !rep.Truncated || rep.Skipped() != 4 {
		t.Fatalf("n=%d report=%+v", n, rep)
	}
	if want := []int{2, 5, 7, 9}; len(rep.FirstBad) != len(want) || rep.FirstBad[0] != 2 || rep.FirstBad[3] != 9 {
		t.Errorf("FirstBad=%v want %v", rep.FirstBad, want)
	}
	if w := rep.Warning(); !strings.Contains(w, "Skipped 4 malformed line(s) in mem") || !strings.Contains(w, "truncated") {
		t.Errorf("warning %q", w)
	}
	// CRLF and a final good line without newline are fine.
	rep, _ = ScanEntries(strings.NewReader(good+"\r\n"+good), "m", FormatAccessLog, func(*Entry) {})
	if rep.Parsed != 2 || rep.Skipped() != 0 {
		t.Errorf("%+v", rep)
	}
}

func TestTokenUsage(t *testing.T) {
	in := `{"provider":"openai","model":"gpt-5","input_tokens":10,"output_tokens":2,"cache_read_tokens":3,"duration_ms":100}
{"provider":"openai","model":"gpt-5","input_tokens":5,"output_tokens":1,"cache_write_tokens":4,"duration_ms":50}
{"provider":"anthropic","input_tokens":1}
{"model":"no-provider"}
{"provider":"openai","model":"gpt-5","input_tokens":"many"}
`
	agg := NewTokenAggregator()
	rep, err := scanLines(strings.NewReader(in), "t", func(b []byte) bool {
		r, err := ParseTokenLine(b)
		if err != nil {
			return false
		}
		agg.Add(&r)
		return true
	})
	if err != nil || rep.Malformed != 2 {
		t.Fatalf("%+v %v", rep, err)
	}
	u := agg.Result("t")
	if u.Total.Calls != 3 || u.Total.InputTokens != 16 || u.Total.CacheReadTokens != 3 || u.Total.CacheWriteTokens != 4 || u.Total.DurationMs != 150 {
		t.Errorf("total %+v", u.Total)
	}
	if len(u.ByModel) != 2 || u.ByModel[0].Model != "gpt-5" || u.ByModel[0].Calls != 2 || u.ByModel[1].Model != "unknown" {
		t.Errorf("by model %+v", u.ByModel)
	}
}

func TestPrettyHidesStandardPorts(t *testing.T) {
	f := EntryFormatter{Format: FormatPretty}
	for _, c := range []struct{ line, want string }{
		{`1.0 1.2.3.4:5 a.test:443 -:- 1.1 CONNECT 200 TCP_TUNNEL:HIER_DIRECT a.test:443 "-"`, "CONNECT a.test → 200 (ALLOWED)"},
		{`1.0 1.2.3.4:5 a.test:8443 -:- 1.1 CONNECT 403 TCP_DENIED:HIER_NONE a.test:8443 "-"`, "CONNECT a.test:8443 → 403 (DENIED)"},
		{`1.0 1.2.3.4:5 a.test 9.9.9.9:80 1.1 GET 200 TCP_MISS:HIER_DIRECT http://a.test/ "-"`, "GET a.test → 200"},
		{`1.0 1.2.3.4:5 a.test:3000 9.9.9.9:3000 1.1 GET 200 TCP_MISS:HIER_DIRECT http://a.test:3000/ "-"`, "GET a.test:3000 → 200"},
	} {
		e, err := ParseAccessLine(c.line)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Pretty(&e); !strings.Contains(got, c.want) || !strings.HasPrefix(got, "[1970-01-01 00:00:01.000]") {
			t.Errorf("%q does not contain %q", got, c.want)
		}
	}
	pid := 42
	e := Entry{Method: "GET", Domain: "x", StatusCode: 200, IsAllowed: true, PID: &pid, Comm: "curl"}
	if got := f.Pretty(&e); !strings.HasSuffix(got, "<PID:42 curl>") {
		t.Errorf("%q", got)
	}
	var b bytes.Buffer
	EntryFormatter{Format: FormatJSON}.WriteEntry(&b, &e)
	if !strings.Contains(b.String(), `"pid":42,"comm":"curl"`) {
		t.Errorf("%s", b.String())
	}
}

func TestCheckFormatAndDecision(t *testing.T) {
	if err := CheckFormat("xml", LogFormats); err == nil || err.Error() != "Invalid format: xml. Must be one of: raw, pretty, json" {
		t.Errorf("%v", err)
	}
	if err := CheckFormat("markdown", StatFormats); err != nil {
		t.Error(err)
	}
	if err := CheckDecision("maybe"); err == nil || err.Error() != `Invalid decision filter: maybe. Must be "allowed" or "denied".` {
		t.Errorf("%v", err)
	}
}
