package agentenv

import (
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/credinject"
)

// TestInjectedVariablesArePlaceholders: a variable --inject-credential
// reads holds the placeholder in the sandbox, whatever tries to pass it
// (--env-all, -e, another name carrying the value), and is listed.
func TestInjectedVariablesArePlaceholders(t *testing.T) {
	secret := "npm_" + strings.Repeat("S", 36)
	for _, proxy := range []bool{true, false} {
		in := Input{HostEnv: map[string]string{"NPM_TOKEN": secret, "COPY": "x" + secret + "y"}, APIProxy: proxy, EnvAll: true,
			Injected: []string{"NPM_TOKEN"}, Extra: []config.EnvVar{{Name: "NPM_TOKEN", Value: secret}, {Name: "OTHER", Value: secret}}}
		r := BuildResult(in)
		if r.Agent["NPM_TOKEN"] != credinject.Placeholder || r.Agent[credinject.EnvList] != "NPM_TOKEN" {
			t.Errorf("proxy=%v: NPM_TOKEN=%q list=%q", proxy, r.Agent["NPM_TOKEN"], r.Agent[credinject.EnvList])
		}
		for k, v := range r.Agent {
			if strings.Contains(v, secret) {
				t.Errorf("proxy=%v: %s carries the injected value", proxy, k)
			}
		}
	}
}
