package config

import (
	"strings"
	"testing"
)

// TestInjectCredential: the flag and the document key give the same
// rules; the variable must be set in awf's environment; no error or
// notice carries its value.
func TestInjectCredential(t *testing.T) {
	secret := "tok-" + strings.Repeat("9", 30)
	env := map[string]string{"SUDO_UID": "1001", "SUDO_GID": "1001", "GH_TOKEN": secret}
	c, warns, err := buildArgv(t, []string{"--inject-credential", "api.github.com,github.com:Authorization=Bearer $GH_TOKEN", "--", "true"}, nil, env)
	if err != nil || len(c.Inspect.Credentials) != 1 || strings.Join(c.Inspect.Credentials[0].Hosts, ",") != "api.github.com,github.com" {
		t.Fatalf("flag: %v %+v", err, c)
	}
	if strings.Contains(warnText(warns), secret) || !strings.Contains(warnText(warns), "Credential injection: api.github.com, github.com gets Authorization from $GH_TOKEN") {
		t.Errorf("notices:\n%s", warnText(warns))
	}
	c, _, err = buildArgv(t, []string{"--config", "/c/inj.json", "--", "true"},
		map[string]string{"/c/inj.json": `{"security":{"injectCredentials":["github.com:Authorization=Basic base64(x-access-token:$GH_TOKEN)","registry.npmjs.org:Authorization=Bearer ${GH_TOKEN}"]}}`}, env)
	if err != nil || len(c.Inspect.Credentials) != 2 {
		t.Fatalf("document: %v %+v", err, c)
	}
	delete(env, "GH_TOKEN")
	if _, _, err := buildArgv(t, []string{"--inject-credential", "github.com:Authorization=Bearer $GH_TOKEN", "--", "true"}, nil, env); err == nil || !strings.Contains(err.Error(), "$GH_TOKEN is not set") {
		t.Errorf("unset variable: %v", err)
	}
	if _, _, err := buildArgv(t, []string{"--inject-credential", "github.com:Authorization=Bearer " + secret, "--", "true"}, nil, env); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("a literal value must be refused without being echoed: %v", err)
	}
}
