package config

import (
	"log/slog"

	"github.com/spf13/pflag"

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
}

type inspectFlags struct {
	sslBump   bool
	allowURLs string
	dlp       bool
}

func (x *inspectFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&x.sslBump, "ssl-bump", false, "Enable SSL Bump for HTTPS content inspection (allows URL path filtering): a per-run CA trusted inside the sandbox; only hosts a rule needs are inspected")
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
