package config

import (
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/guards"
)

// TestHostedWebFromGhAwDocument: the key gh-aw v0.28.31 writes
// (apiProxy.hostedWeb.claude.enabled=false) sets --hosted-web, reaches the
// api-proxy as AWF_HOSTED_WEB, and prints no "not yet supported" notice.
func TestHostedWebFromGhAwDocument(t *testing.T) {
	doc := `{"apiProxy":{"enabled":true,"maxRuns":100,"hostedWeb":{"claude":{"enabled":false}},"disallowedModels":["*opus*"]}}`
	c, warns, err := buildArgv(t, []string{"--config", "/c.json", "--", "true"}, map[string]string{"/c.json": doc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := warnText(warns); strings.Contains(w, "not yet supported") || strings.Contains(w, "hostedWeb") {
		t.Errorf("notices:\n%s", w)
	}
	if got := c.APIProxy.GuardEnv[guards.EnvHostedWeb]; got != `{"claude":{"enabled":false}}` {
		t.Fatalf("%s = %q", guards.EnvHostedWeb, got)
	}
	g, gw := guards.FromEnv(func(k string) string { return c.APIProxy.GuardEnv[k] })
	if len(gw) != 0 || !g.HostedWebOff["claude"] || len(g.HostedWebOff) != 1 {
		t.Fatalf("read back %v %v", g.HostedWebOff, gw)
	}
}

func TestHostedWebFlag(t *testing.T) {
	for _, tt := range []struct {
		argv []string
		want string // AWF_HOSTED_WEB, or the error
	}{
		{[]string{"--hosted-web", `{"codex": {"enabled": false}, "gemini": {"enabled": true}}`}, `{"codex":{"enabled":false},"gemini":{"enabled":true}}`},
		{[]string{"--hosted-web", `{"claude":{"enabled":"no"}}`}, "Invalid apiProxy.hostedWeb value"},
		{[]string{"--hosted-web", `[]`}, "Invalid apiProxy.hostedWeb value"},
		{[]string{}, ""},
	} {
		c, warns, err := build(t, append(tt.argv, "--", "true"), nil)
		if strings.HasPrefix(tt.want, "Invalid") {
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%q: err %v", tt.argv, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tt.argv, err)
		}
		if got, ok := c.APIProxy.GuardEnv[guards.EnvHostedWeb]; got != tt.want || ok != (tt.want != "") {
			t.Errorf("%q: env %q", tt.argv, got)
		}
		if w := warnText(warns); strings.Contains(w, "hosted") {
			t.Errorf("%q: warnings\n%s", tt.argv, w)
		}
	}
}
