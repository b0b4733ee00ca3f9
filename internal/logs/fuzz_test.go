package logs

import (
	"encoding/json"
	"testing"
)

var auditSeeds = []string{
	`{"ts":1774290908.910,"client":"172.30.0.20","host":"api.github.com:443","dest":"140.82.116.5:443","method":"CONNECT","status":200,"decision":"TCP_TUNNEL","url":"api.github.com:443","bytes_in":812,"bytes_out":20480,"duration_ms":310,"rule":"allow-both-plain","reason":"allowed by github.com"}`,
	`{"ts":1,"url":"a\u0062c","host":null,"x":[1,{"y":2}],"status":403}`,
	`{"TS":5,"Url":"x"}`, `{"ts":01}`, `{"ts":-0.5e+3,"status":2e2}`, `{"url":"\ud800"}`, `{}`, `{"ts":1,}`,
	`{"bytes_in":-1,"bytes_out":1.5}`, `{"url":"a\"b","reason":"\\"}`, "{\"url\":\"\xff\"}", `{"ts":true}`,
}

// FuzzAuditParsers checks the fast audit.jsonl parser against
// encoding/json: whenever the fast path accepts a line, encoding/json
// accepts it too and reads the same fields.
func FuzzAuditParsers(f *testing.F) {
	for _, s := range auditSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var fast auditFields
		if !parseFlatAudit(line, &fast) {
			return
		}
		var al auditLine
		if err := json.Unmarshal([]byte(line), &al); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json says %v", line, err)
		}
		if slow := al.fields(); slow != fast {
			t.Fatalf("%q:\nfast %+v\nslow %+v", line, fast, slow)
		}
	})
}

// FuzzParseAccessLine: any input is either rejected or yields an entry
// whose derived fields are consistent; nothing panics.
func FuzzParseAccessLine(f *testing.F) {
	f.Add(`1774290908.910 172.30.0.20:55872 api.github.com:443 140.82.116.5:443 1.1 CONNECT 200 TCP_TUNNEL:HIER_DIRECT api.github.com:443 "curl/7.81.0"`)
	f.Add(`1.5 [::1]:1 - -:- - GET 0 NONE:HIER_NONE http://[::1]:8080/x "-"`)
	f.Add(`1.5 -:- h -:- 1.1 GET 403 TCP_DENIED:HIER_NONE %zz "ua"`)
	f.Fuzz(func(t *testing.T, line string) {
		e, err := ParseAccessLine(line)
		if err != nil {
			return
		}
		if e.IsHTTPS != (e.Method == "CONNECT") || e.IsAllowed != isAllowedDecision(e.Decision) {
			t.Fatalf("inconsistent entry %+v", e)
		}
		f := EntryFormatter{Format: FormatPretty}
		_ = f.Pretty(&e)
		c := NewBlockedCollector([]string{"a.test"})
		c.Add(&e)
		_ = c.Report().Lines()
	})
}
