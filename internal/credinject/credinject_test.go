package credinject

import (
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParse(t *testing.T) {
	good := []struct{ spec, hosts, header string }{
		{"api.github.com,github.com:Authorization=Bearer $GH_TOKEN", "api.github.com github.com", "Authorization"},
		{"*.example.test:X-Api-Key=${KEY}", "*.example.test", "X-Api-Key"},
		{"GitHub.com.:Authorization=Basic base64(x-access-token:$T)", "github.com", "Authorization"},
	}
	for _, g := range good {
		r, err := Parse(g.spec)
		if err != nil || strings.Join(r.Hosts, " ") != g.hosts || r.Header != g.header {
			t.Errorf("%q: %+v %v", g.spec, r, err)
		}
	}
	for spec, want := range map[string]string{
		"github.com":                          "no ':'",
		"github.com:Authorization":            "no '='",
		"github.com:Authorization=Bearer abc": "names no $VARIABLE",
		"github.com:Bad Header=$X":            "not a header name",
		"github.com:Host=$X":                  "cannot carry a credential",
		"http://github.com:Authorization=$X":  "not a host name",
		"1.2.3.4:Authorization=$X":            "not a host name",
		"*:Authorization=$X":                  "not a host name",
		"g.com:Authorization=base64($X":       "must close",
	} {
		_, err := Parse(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", spec, err, want)
		}
		if _, v, ok := strings.Cut(spec, "="); ok && err != nil && strings.Contains(err.Error(), v) {
			t.Errorf("%q: the error echoes the value: %v", spec, err)
		}
	}
}

func TestValueAndHook(t *testing.T) {
	secret := "s3cr3t-" + strings.Repeat("z", 20)
	r1, _ := Parse("api.github.com:Authorization=Bearer $GH_TOKEN")
	r2, _ := Parse("github.com,*.git.test:Authorization=Basic base64(x-access-token:${GH_TOKEN})")
	if _, err := r1.Value(env(nil)); err == nil || !strings.Contains(err.Error(), "$GH_TOKEN is not set") {
		t.Errorf("missing var: %v", err)
	}
	if _, err := r1.Value(env(map[string]string{"GH_TOKEN": "a\r\nX-Evil: 1"})); err == nil || strings.Contains(err.Error(), "X-Evil") {
		t.Errorf("CRLF value: %v", err)
	}
	h, err := NewHook([]Rule{r1, r2}, env(map[string]string{"GH_TOKEN": secret}))
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{"api.github.com": true, "github.com": true, "a.git.test": true, "git.test": false, "evil.com": false, "api.github.com.evil": false} {
		if h.Inspects(host) != want {
			t.Errorf("Inspects(%s) != %v", host, want)
		}
	}
	req := httptest.NewRequest("GET", "https://api.github.com/user", nil)
	req.Header.Set("Authorization", "token "+Placeholder)
	h.Request(req, "api.github.com")
	if got := req.Header.Values("Authorization"); len(got) != 1 || got[0] != "Bearer "+secret {
		t.Errorf("api: %q", got)
	}
	req = httptest.NewRequest("GET", "https://github.com/o/r.git/info/refs", nil)
	h.Request(req, "github.com")
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+secret))
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("git: %q", got)
	}
	req = httptest.NewRequest("GET", "https://evil.com/", nil)
	req.Header.Set("Authorization", "Bearer mine")
	h.Request(req, "evil.com")
	if req.Header.Get("Authorization") != "Bearer mine" {
		t.Error("a host without a rule was changed")
	}
	if strings.Join(h.InspectedHosts(), " ") != "api.github.com github.com *.git.test" {
		t.Errorf("hosts %v", h.InspectedHosts())
	}
	if Vars([]Rule{r1, r2})[0] != "GH_TOKEN" || len(Vars([]Rule{r1, r2})) != 1 {
		t.Errorf("vars %v", Vars([]Rule{r1, r2}))
	}
}
