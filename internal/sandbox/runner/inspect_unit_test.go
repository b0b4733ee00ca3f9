package runner

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/logs"
)

func TestCATrust(t *testing.T) {
	pem := []byte("-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n")
	env := map[string]string{"SSL_CERT_FILE": "/nonexistent/own.pem", "HOME": "/home/u"}
	files := caTrust(pem, env, nil)
	if !bytes.Equal(files[AgentCAFile], pem) || !bytes.HasSuffix(files[AgentCABundle], pem) {
		t.Fatalf("CA files: %q", files[AgentCAFile])
	}
	for k, v := range CAEnv {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	for _, p := range SystemBundles {
		if _, err := os.Stat(p); err == nil {
			sys, _ := os.ReadFile(p)
			if !bytes.HasPrefix(files[p], sys) || !bytes.HasSuffix(files[p], pem) {
				t.Errorf("%s: not the system bundle plus the CA", p)
			}
		} else if _, ok := files[p]; ok {
			t.Errorf("%s does not exist on the host but is bound", p)
		}
	}
	// The agent's own SSL_CERT_FILE joins the bundle, certificates only:
	// awf reads it as root.
	dir := t.TempDir()
	own := dir + "/own.pem"
	os.WriteFile(own, []byte("secret line\n-----BEGIN CERTIFICATE-----\nT1dO\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n"), 0o600)
	env = map[string]string{"SSL_CERT_FILE": own}
	files = caTrust(pem, env, nil)
	if b := files[AgentCABundle]; !bytes.Contains(b, []byte("T1dO")) || bytes.Contains(b, []byte("secret")) || bytes.Contains(b, []byte("S0VZ")) {
		t.Errorf("own bundle: %s", b)
	}
	// Nothing without a CA.
	env = map[string]string{}
	if f := caTrust(nil, env, nil); len(f) != 0 || len(env) != 0 {
		t.Errorf("no CA: %v %v", f, env)
	}
}

func TestInspectManifestRule(t *testing.T) {
	c := &config.Config{Inspect: config.Inspection{SSLBump: true, AllowURLs: []string{"https://GitHub.com/org/*"}}}
	rules := []logs.Rule{{ID: "allow-both-plain", Action: "allow", Order: 1}, {ID: "deny-default", Action: "deny", Order: 2}}
	var mo logs.ManifestOptions
	out := inspectManifest(c, []byte("pem"), rules, &mo)
	if len(out) != 3 || out[1].ID != "allow-urls" || out[2].ID != "deny-default" || out[0].Order != 0 {
		t.Errorf("rules %+v", out)
	}
	if !mo.SSLBump || mo.Inspection == nil || mo.Inspection.InspectedHosts[0] != "github.com" || mo.Inspection.Hooks[0] != "allow-urls" {
		t.Errorf("manifest options %+v", mo.Inspection)
	}
	mo = logs.ManifestOptions{}
	if out := inspectManifest(&config.Config{}, nil, rules, &mo); len(out) != 2 || mo.SSLBump || mo.Inspection != nil {
		t.Error("no --ssl-bump: no change")
	}
}

func TestInspectNotices(t *testing.T) {
	c := &config.Config{Inspect: config.Inspection{SSLBump: true, AllowURLs: []string{"https://github.com/org/*", "https://gist.github.com/x/*", "https://*.svc.test/a/*"}}}
	hooks, err := InspectHooks(c)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := domains.Compile([]string{"github.com"}, []string{"gist.github.com"})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, w := range inspectNotices(hooks, pol) {
		msgs = append(msgs, w.Msg)
	}
	got := strings.Join(msgs, "\n")
	want := "TLS inspection (allow-urls): github.com, gist.github.com, *.svc.test; every other host is tunnelled\n" +
		"--allow-urls names gist.github.com, which --allow-domains does not admit: its requests are refused before URL rules apply"
	if got != want {
		t.Errorf("notices:\n%s\nwant:\n%s", got, want)
	}
}
