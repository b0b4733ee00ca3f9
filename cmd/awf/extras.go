package main

import (
	"log/slog"
	"path/filepath"

	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/diagnostics"
	"github.com/awf-dev/awf/internal/doh"
	"github.com/awf-dev/awf/internal/egress"
	"github.com/awf-dev/awf/internal/sandbox/runner"
	"github.com/awf-dev/awf/internal/sessionstate"
)

// prepareExtras does what --session-state-dir and --dns-over-https need
// before the run: the session-state mount, and the egress proxy's DoH
// resolver (nil when DoH is off).
func prepareExtras(c *config.Config) (egress.Resolver, error) {
	if err := sessionstate.Prepare(c); err != nil {
		return nil, err
	}
	if c.Extras.DNSOverHTTPS == "" {
		return nil, nil
	}
	r, err := doh.New(c.Extras.DNSOverHTTPS, c.DNSServers, nil)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// finishExtras runs after the command, before the logs are preserved:
// --diagnostic-logs on a non-zero exit, and the session state's line.
func finishExtras(c *config.Config, code int, runErr error, log *slog.Logger) {
	if c.Extras.DiagnosticLogs && code != 0 {
		log.Info("Collecting diagnostic logs...")
		d := runner.RunDirs(c)
		dir, err := diagnostics.Collect(diagnostics.Input{
			Dir: filepath.Join(d.Audit, "diagnostics"), ExitCode: code, Err: runErr,
			EgressLog: filepath.Join(d.Egress, "access.log"), APIProxyLog: filepath.Join(d.APIProxy, "api-proxy.log"),
			Config: c.Redacted(),
		})
		if err != nil {
			log.Warn("Failed to collect diagnostic logs: " + err.Error())
		} else {
			log.Info("Diagnostic logs collected at: " + dir)
		}
	}
	if line := sessionstate.Report(c); line != "" {
		log.Info(line)
	}
}
