package config

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"

	"github.com/awf-dev/awf/internal/credinject"
	"github.com/awf-dev/awf/internal/urlrules"
)

// --ssl-bump and --allow-urls: TLS inspection in the egress proxy
// (internal/inspect) and URL rules (internal/urlrules). The checks and
// messages are the original's (src/commands/validators/agent-options.ts).
// flags.go only registers and calls this.

// Inspection is the TLS-inspection part of a run.
type Inspection struct {
	// SSLBump makes a per-run CA, trusted inside the sandbox, so the egress
	// proxy can terminate TLS for the hosts a rule needs to see inside.
	SSLBump bool
	// AllowURLs are the --allow-urls patterns (validated), in order.
	AllowURLs []string
	// DLP (--enable-dlp) refuses requests that carry a credential
	// (internal/dlp): plain HTTP and host names always, HTTPS URLs,
	// headers and bodies when SSLBump is on.
	DLP bool
	// Credentials are the --inject-credential rules (internal/credinject):
	// their hosts are inspected (no --ssl-bump needed), the variables they
	// read are replaced by a placeholder in the sandbox.
	Credentials []credinject.Rule
}

type inspectFlags struct {
	sslBump   bool
	allowURLs string
	dlp       bool
	inject    []string
}

func (x *inspectFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&x.sslBump, "ssl-bump", false, "Enable SSL Bump for HTTPS content inspection (allows URL path filtering): a per-run CA trusted inside the sandbox; only hosts a rule needs are inspected")
	fs.StringArrayVar(&x.inject, "inject-credential", nil, "Give HOSTS a credential the agent never holds (repeatable): 'HOST[,HOST...]:Header=VALUE', VALUE with $VAR from awf's environment,\ne.g. 'api.github.com:Authorization=Bearer $GH_TOKEN', 'github.com:Authorization=Basic base64(x-access-token:$GH_TOKEN)'")
	fs.BoolVar(&x.dlp, "enable-dlp", false, "Enable DLP scanning to block credential exfiltration in request URLs (with --ssl-bump also in HTTPS URLs, headers and bodies)")
	fs.StringVar(&x.allowURLs, "allow-urls", "", "Comma-separated allowed URL patterns for HTTPS (requires --ssl-bump).\nSupports wildcards: https://github.com/myorg/*")
}

func (x *inspectFlags) build(c *Config) ([]Warning, error) {
	urls := urlrules.Parse(x.allowURLs)
	if err := urlrules.Validate(urls, x.sslBump); err != nil {
		return nil, errorf("%v", err)
	}
	if _, err := urlrules.Compile(urls); err != nil {
		return nil, errorf("%v", err)
	}
	c.Inspect = Inspection{SSLBump: x.sslBump, AllowURLs: urls, DLP: x.dlp}
	var w []Warning
	for _, spec := range x.inject {
		r, err := credinject.Parse(spec)
		if err != nil {
			return nil, errorf("%v", err)
		}
		if _, err := r.Value(func(k string) string { return c.HostEnv[k] }); err != nil {
			return nil, errorf("%v", err)
		}
		c.Inspect.Credentials = append(c.Inspect.Credentials, r)
		w = append(w, Warning{Level: slog.LevelInfo, Msg: fmt.Sprintf("Credential injection: %s gets %s from $%s (the sandbox holds a placeholder); TLS to it is inspected",
			strings.Join(r.Hosts, ", "), r.Header, strings.Join(r.Vars, ", $"))})
	}
	if x.dlp {
		msg := "DLP enabled: requests carrying credential patterns are blocked (plain HTTP URLs and host names; add --ssl-bump to scan HTTPS URLs, headers and bodies)"
		if x.sslBump {
			msg = "DLP enabled: requests carrying credential patterns are blocked (every HTTPS host is inspected: URLs, headers and bodies)"
		}
		w = append(w, Warning{Level: slog.LevelInfo, Msg: msg})
	}
	if !x.sslBump {
		return w, nil
	}
	return append(w, []Warning{
		{Level: slog.LevelInfo, Msg: "SSL Bump mode enabled - HTTPS content inspection will be performed"},
		{Level: slog.LevelWarn, Msg: "⚠️  SSL Bump intercepts HTTPS traffic. Only use for trusted workloads."},
	}...), nil
}
