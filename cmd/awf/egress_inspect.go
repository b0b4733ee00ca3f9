package main

import (
	"os"

	"github.com/spf13/pflag"

	"github.com/awf-dev/awf/internal/egress"
	"github.com/awf-dev/awf/internal/inspect"
	"github.com/awf-dev/awf/internal/urlrules"
)

// --ssl-bump, --allow-urls and --ca-cert-out for `awf egress-proxy` (the
// Compose topology): the same checks as the main command; the CA's key
// stays in this process, its certificate goes to --ca-cert-out for the
// agent's trust store.
type egressInspectFlags struct {
	sslBump   bool
	allowURLs string
	caOut     string
}

func (x *egressInspectFlags) register(fl *pflag.FlagSet) {
	fl.BoolVar(&x.sslBump, "ssl-bump", false, "TLS inspection: a per-run CA (key in memory only); hosts named by --allow-urls are inspected")
	fl.StringVar(&x.allowURLs, "allow-urls", "", "comma-separated allowed URL patterns for HTTPS (requires --ssl-bump), e.g. https://github.com/myorg/*")
	fl.StringVar(&x.caOut, "ca-cert-out", "", "with --ssl-bump: write the CA certificate (PEM, never the key) here for the agent to trust")
}

func (x *egressInspectFlags) build() (egress.Inspect, error) {
	urls := urlrules.Parse(x.allowURLs)
	if err := urlrules.Validate(urls, x.sslBump); err != nil {
		return egress.Inspect{}, err
	}
	if !x.sslBump {
		return egress.Inspect{}, nil
	}
	ca, err := inspect.NewCA(inspect.DefaultValidity)
	if err != nil {
		return egress.Inspect{}, err
	}
	if x.caOut != "" {
		if err := os.WriteFile(x.caOut, ca.PEM(), 0o644); err != nil {
			return egress.Inspect{}, err
		}
	}
	var hooks []inspect.Hook
	if len(urls) > 0 {
		r, err := urlrules.Compile(urls)
		if err != nil {
			return egress.Inspect{}, err
		}
		hooks = append(hooks, r)
	}
	return egress.Inspect{CA: ca, Hooks: hooks}, nil
}
