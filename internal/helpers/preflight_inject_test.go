package helpers

import (
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/credinject"
)

func TestPreflightInjectedCredentials(t *testing.T) {
	none := func(string) error { return nil }
	ok := map[string]string{credinject.EnvList: "GH_TOKEN,NPM_TOKEN", "GH_TOKEN": credinject.Placeholder, "NPM_TOKEN": credinject.Placeholder, "AWF_API_PROXY_IP": "172.30.0.30"}
	if p := Preflight(ok, none); len(p) != 0 {
		t.Errorf("placeholders refused: %v", p)
	}
	bad := map[string]string{credinject.EnvList: "NPM_TOKEN", "NPM_TOKEN": "real-value", "GH_TOKEN": credinject.Placeholder, "AWF_API_PROXY_IP": "172.30.0.30"}
	p := Preflight(bad, none)
	msgs := ""
	for _, x := range p {
		msgs += x.Message + "\n"
	}
	if !strings.Contains(msgs, "NPM_TOKEN is injected") || !strings.Contains(msgs, "GH_TOKEN is set although the API proxy is on") || strings.Contains(msgs, "real-value") {
		t.Errorf("problems:\n%s", msgs)
	}
}
