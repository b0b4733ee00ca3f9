package config

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/awf-dev/awf/internal/hostaccess"
)

func TestHostAccessFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		argv    []string
		wantErr string
		check   func(t *testing.T, c *Config, warns string)
	}{
		{name: "ports without host access", argv: []string{"--allow-host-ports", "8080"},
			wantErr: "--allow-host-ports requires --enable-host-access to be set"},
		{name: "dangerous port", argv: []string{"--enable-host-access", "--allow-host-ports", "3306"},
			wantErr: "Port 3306 is blocked for security reasons. Dangerous ports (SSH:22, MySQL:3306, PostgreSQL:5432, etc.) cannot be allowed even with --allow-host-ports."},
		{name: "gh-aw v0.27", argv: []string{"--enable-host-access", "--allow-host-ports", "80,443,8080", "-d", "github.com,host.docker.internal"},
			check: func(t *testing.T, c *Config, warns string) {
				if !c.HostAccess.Host {
					t.Fatal("host access off")
				}
				if r, ok := c.HostAccess.Lookup(8080); !ok || r.Route != hostaccess.RouteHost {
					t.Errorf("8080: %+v", r)
				}
				if !strings.Contains(warns, "Host access enabled with host.docker.internal in allowed domains") {
					t.Errorf("no allowlist warning:\n%s", warns)
				}
			}},
		{name: "gh-aw v0.28: the allowlist entry alone", argv: []string{"-d", "github.com,host.docker.internal"},
			check: func(t *testing.T, c *Config, warns string) {
				if !c.HostAccess.Host || c.HostAccess.Why != "allowlist entry host.docker.internal" {
					t.Fatalf("%+v", c.HostAccess)
				}
				if _, ok := c.HostAccess.Lookup(8080); ok {
					t.Error("8080 open without --allow-host-ports")
				}
			}},
		{name: "service ports in legacy mode", argv: []string{"--legacy-security", "--allow-host-service-ports", "5432,6379"},
			check: func(t *testing.T, c *Config, warns string) {
				if r, ok := c.HostAccess.Lookup(5432); !ok || r.Rule != hostaccess.RuleAllowHostService {
					t.Errorf("5432: %+v %v", r, ok)
				}
				if !strings.Contains(warns, "automatically enabling host access") {
					t.Errorf("warnings:\n%s", warns)
				}
			}},
		{name: "difc proxy", argv: []string{"--difc-proxy-host", "host.docker.internal:18443", "--difc-proxy-ca-cert", "/data"},
			check: func(t *testing.T, c *Config, warns string) {
				if c.CLIProxy != (CLIProxy{Enabled: true, Host: "127.0.0.1", Port: 18443, CACert: "/data"}) {
					t.Errorf("%+v", c.CLIProxy)
				}
			}},
		{name: "difc ca missing", argv: []string{"--difc-proxy-host", "awmg-cli-proxy:18443", "--difc-proxy-ca-cert", "/nope"},
			wantErr: "--difc-proxy-ca-cert:"},
		{name: "difc bad port", argv: []string{"--difc-proxy-host", "localhost:99999"},
			wantErr: "Invalid --difc-proxy-host port: 99999. Must be between 1 and 65535."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv := tc.argv
			probe := pflag.NewFlagSet("probe", pflag.ContinueOnError)
			Register(probe)
			if argv[0] == "--legacy-security" && probe.Lookup("legacy-security") == nil {
				argv = argv[1:] // no security modes in this tree: nothing to lift
			}
			c, warns, err := build(t, append(argv, "--", "true"), nil)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c, warnText(warns))
		})
	}
}

func TestParseDIFCProxyHost(t *testing.T) {
	for in, want := range map[string]string{
		"host.docker.internal:18443": "127.0.0.1:18443", "localhost:1": "127.0.0.1:1", "https://difc.example.com:443": "difc.example.com:443",
		"[::1]:18443": "127.0.0.1:18443", "awmg-cli-proxy": "awmg-cli-proxy:18443", "": "127.0.0.1:18443",
	} {
		h, p, err := ParseDIFCProxyHost(in)
		if err != nil || h+":"+itoa(p) != want {
			t.Errorf("%q: %s:%d %v, want %s", in, h, p, err, want)
		}
	}
}

func itoa(p uint16) string { return fmtUint(p) }

func fmtUint(p uint16) string {
	if p == 0 {
		return "0"
	}
	var b []byte
	for ; p > 0; p /= 10 {
		b = append([]byte{byte('0' + p%10)}, b...)
	}
	return string(b)
}
