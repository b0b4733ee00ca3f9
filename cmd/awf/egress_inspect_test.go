package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEgressProxyInspectFlags(t *testing.T) {
	cmd := newEgressCmd()
	for _, n := range []string{"ssl-bump", "allow-urls", "ca-cert-out"} {
		if cmd.Flags().Lookup(n) == nil {
			t.Errorf("awf egress-proxy has no --%s", n)
		}
	}
	out := filepath.Join(t.TempDir(), "ca.pem")
	x := egressInspectFlags{sslBump: true, allowURLs: "https://github.com/org/*", caOut: out}
	in, err := x.build()
	if err != nil {
		t.Fatal(err)
	}
	if in.CA == nil || len(in.Hooks) != 1 || !in.Hooks[0].Inspects("github.com") || in.Hooks[0].Inspects("npmjs.org") {
		t.Errorf("inspect %+v", in)
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.HasPrefix(string(b), "-----BEGIN CERTIFICATE-----") || strings.Contains(string(b), "PRIVATE") {
		t.Errorf("ca-cert-out: %v %q", err, b)
	}
	x = egressInspectFlags{allowURLs: "https://github.com/org/*"}
	if _, err := x.build(); err == nil || err.Error() != "--allow-urls requires --ssl-bump to be enabled" {
		t.Errorf("without --ssl-bump: %v", err)
	}
	if in, err := (&egressInspectFlags{}).build(); err != nil || in.CA != nil {
		t.Errorf("default: %v %+v", err, in)
	}
}
