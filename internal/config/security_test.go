package config

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// buildWith parses argv into a FlagSet that also carries the flags other
// parts of awf may register (the strict-override candidates), and builds.
type extra struct {
	dind        bool
	doh         string
	servicePort string
	isolation   bool
}

func buildWith(t *testing.T, argv []string) (*Config, []Warning, *extra, error) {
	t.Helper()
	fs := pflag.NewFlagSet("awf", pflag.ContinueOnError)
	f := Register(fs)
	f.Sys = fakeSys(0, testFiles)
	x := &extra{}
	if fs.Lookup("allow-host-service-ports") == nil { // registered by hostaccess.go once it exists
		fs.StringVar(&x.servicePort, "allow-host-service-ports", "", "")
	}
	if err := fs.Parse(argv); err != nil {
		t.Fatalf("parse %v: %v", argv, err)
	}
	c, w, err := f.Build(fs.Args(), map[string]string{"SUDO_UID": "1001", "SUDO_GID": "1001"})
	x.servicePort = fs.Lookup("allow-host-service-ports").Value.String()
	// enable-dind, network-isolation (compat.go) and dns-over-https (extras.go).
	x.dind = fs.Lookup("enable-dind").Value.String() == "true"
	if c != nil {
		x.doh = c.Extras.DNSOverHTTPS
	}
	x.isolation = fs.Lookup("network-isolation").Value.String() == "true"
	return c, w, x, err
}

func TestSecurityMode(t *testing.T) {
	const (
		deprecated = "WARN ⚠️  --enable-api-proxy is deprecated and no longer needed. The API proxy is always enabled."
		legacyInfo = "INFO Running in legacy security mode"
		compat     = "WARN ⚠️  --security-mode compat is deprecated. Use --legacy-security instead."
		strict     = "WARN ⚠️  --security-mode is deprecated. Strict security is the default; remove the flag."
	)
	cases := []struct {
		name    string
		argv    []string
		legacy  bool
		want    []string
		notWant []string
	}{
		{"strict by default", nil, false, nil, []string{deprecated, legacyInfo, "was ignored"}},
		{"--enable-api-proxy is deprecated", []string{"--enable-api-proxy"}, false, []string{deprecated}, []string{legacyInfo}},
		{"--legacy-security", []string{"--legacy-security"}, true, []string{legacyInfo}, []string{deprecated}},
		{"--legacy-security=false", []string{"--legacy-security=false"}, false, nil, []string{legacyInfo}},
		{"--security-mode compat", []string{"--security-mode", "compat"}, true, []string{compat, legacyInfo}, nil},
		{"--security-mode strict", []string{"--security-mode", "strict"}, false, []string{strict}, []string{legacyInfo}},
		{"--legacy-security wins over --security-mode", []string{"--legacy-security", "--security-mode", "compat"}, true, []string{legacyInfo}, []string{compat}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, warns, _, err := buildWith(t, append(tc.argv, "--", "true"))
			if err != nil {
				t.Fatal(err)
			}
			if !c.APIProxy.Enabled {
				t.Error("the API proxy is off; it must be on in every mode")
			}
			if c.Security.Legacy != tc.legacy {
				t.Errorf("Legacy = %v, want %v", c.Security.Legacy, tc.legacy)
			}
			msgs := warnText(warns)
			for _, w := range tc.want {
				if !strings.Contains(msgs, w) {
					t.Errorf("warnings lack %q:\n%s", w, msgs)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(msgs, w) {
					t.Errorf("warnings have %q:\n%s", w, msgs)
				}
			}
		})
	}
}

func TestSecurityModeErrors(t *testing.T) {
	const noProxy = "❌ --no-enable-api-proxy is not allowed. The API proxy is always enabled for credential isolation.\n   Remove the --no-enable-api-proxy flag from your command."
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"--no-enable-api-proxy"}, noProxy},
		{[]string{"--enable-api-proxy=false"}, noProxy},
		{[]string{"--legacy-security", "--no-enable-api-proxy"}, noProxy},
		{[]string{"--security-mode", "loose"}, "option '--security-mode <mode>' argument 'loose' is invalid. Allowed choices are strict, compat."},
	} {
		_, _, _, err := buildWith(t, append(tc.argv, "--", "true"))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: err = %v, want %q", tc.argv, err, tc.want)
		}
	}
}

// TestStrictOverrides: flags that weaken isolation, when some part of awf
// registers them, are reset with the original's warning in strict mode
// and kept with --legacy-security.
func TestStrictOverrides(t *testing.T) {
	argv := []string{"--enable-dind", "--dns-over-https", "--allow-host-service-ports", "5432", "--network-isolation=false"}
	c, warns, x, err := buildWith(t, append(argv, "--", "true"))
	if err != nil {
		t.Fatal(err)
	}
	if x.dind || x.doh != "" || x.servicePort != "" || !x.isolation {
		t.Errorf("strict mode kept %+v", *x)
	}
	if strings.Join(c.Security.Ignored, ",") != "network-isolation,allow-host-service-ports,enable-dind,dns-over-https" {
		t.Errorf("Ignored = %v", c.Security.Ignored)
	}
	msgs := warnText(warns)
	for _, w := range []string{
		"WARN ⚠️  --no-network-isolation was ignored (incompatible with strict security, the default).\nWARN    Pass --legacy-security to disable network isolation.",
		"WARN ⚠️  --allow-host-service-ports was ignored (incompatible with strict security, the default).\nWARN    Pass --legacy-security to use host service ports.",
		"WARN ⚠️  --enable-dind was ignored (incompatible with strict security, the default).\nWARN    Pass --legacy-security to enable Docker-in-Docker.",
		"WARN ⚠️  --dns-over-https was ignored (incompatible with strict security, the default).\nWARN    Pass --legacy-security to use DNS-over-HTTPS.",
	} {
		if !strings.Contains(msgs, w) {
			t.Errorf("warnings lack %q:\n%s", w, msgs)
		}
	}

	c, warns, x, err = buildWith(t, append(append([]string{"--legacy-security"}, argv...), "--", "true"))
	if err != nil {
		t.Fatal(err)
	}
	if !x.dind || x.doh != "https://dns.google/dns-query" || x.servicePort != "5432" || x.isolation {
		t.Errorf("legacy mode changed %+v", *x)
	}
	if len(c.Security.Ignored) != 0 || strings.Contains(warnText(warns), "was ignored") {
		t.Errorf("legacy mode ignored %v", c.Security.Ignored)
	}
}

func TestResetSliceFlag(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	v := fs.StringArray("ports", []string{"80"}, "")
	if err := fs.Parse([]string{"--ports", "1", "--ports", "2"}); err != nil {
		t.Fatal(err)
	}
	if err := resetFlag(fs.Lookup("ports")); err != nil {
		t.Fatal(err)
	}
	if strings.Join(*v, ",") != "80" || fs.Lookup("ports").Changed {
		t.Errorf("reset to %v", *v)
	}
}
