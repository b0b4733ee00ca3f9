package runner

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/logs"
	"github.com/awf-dev/awf/internal/sandbox"
	"github.com/awf-dev/awf/internal/sandbox/native"
)

// writeAudit records what the run enforces: the policy manifest, the
// firewall (the native counterpart of iptables-audit.txt), the plan and the
// configuration. No environment value is written (config.HideValue): names
// cannot tell a secret from a plain value, and artifacts outlive the run.
func writeAudit(dir string, c *config.Config, p *sandbox.Plan, pol *domains.Policy, caPEM []byte, log *slog.Logger) {
	var rules []logs.Rule
	for _, r := range pol.Rules() {
		rules = append(rules, logs.Rule(r))
	}
	rules = hostRules(c, rules) // hostaccess.go
	mo := hostManifest(c)
	mo.DNSServers, mo.GeneratedAt = c.DNSServers, time.Now()
	rules = inspectManifest(c, caPEM, rules, &mo) // inspect.go
	for _, n := range pol.Ignored() {
		mo.Ignored = append(mo.Ignored, logs.IgnoredEntry{Entry: n.Entry, List: n.List, Kind: n.Kind, Reason: n.Reason, Instead: n.Instead})
	}
	errs := []error{
		logs.WritePolicyManifest(filepath.Join(dir, "policy-manifest.json"), rules, mo),
		os.WriteFile(filepath.Join(dir, "nftables-audit.txt"), []byte(p.Net.Rules.Render()), 0o600),
	}
	red := *p
	red.Env = config.RedactEnv(p.Env, c.APIProxy.Keys.Values())
	red.Argv = nil
	for _, a := range p.Argv {
		a = config.HideValuesIn(config.RedactSecrets(a), c.SuppliedEnvValues())
		for _, k := range c.APIProxy.Keys.Values() {
			if k != "" {
				a = strings.ReplaceAll(a, k, config.Redacted)
			}
		}
		red.Argv = append(red.Argv, a)
	}
	red.Mounts = nil
	for _, m := range p.Mounts {
		m.Data = nil // file contents (the preload library) are not audit material
		red.Mounts = append(red.Mounts, m)
	}
	if b, err := json.MarshalIndent(&red, "", "  "); err == nil {
		errs = append(errs, os.WriteFile(filepath.Join(dir, "sandbox-plan.json"), b, 0o600))
	}
	if b, err := json.MarshalIndent(c.Redacted(), "", "  "); err == nil {
		errs = append(errs, os.WriteFile(filepath.Join(dir, "config.redacted.json"), b, 0o600))
	}
	if err := errors.Join(errs...); err != nil {
		log.Warn("writing audit artifacts", "err", err)
	}
}

// Preserve moves the logs and artifacts out of the work dir, as the
// original: /tmp/squid-logs-<ts>, /tmp/api-proxy-logs-<ts>,
// /tmp/awf-audit-<ts> unless a dir flag put them elsewhere; empty dirs are
// dropped; then the work dir is removed. The kept dirs are readable by the
// run's user (group), not by others, and recorded so that later sandboxes
// hide them. It returns the kept locations.
func Preserve(c *config.Config, log *slog.Logger) (kept []string) {
	d := RunDirs(c)
	defer func() { recordArtifacts(kept...) }()
	chmodTree := func(dir string) {
		// Sandboxes already running did not hide these dirs when they
		// started: hide them there before they become readable, or keep
		// them root's.
		if err := native.HideInLiveSandboxes([]string{dir}, log); err != nil {
			log.Warn("keeping " + dir + " readable by root only: a running sandbox could not hide it")
			return
		}
		shareTree(dir, runGID(c))
	}
	failed := false
	move := func(src, dst string, flagged bool) {
		if empty(src) {
			if !flagged {
				os.RemoveAll(src)
			}
			return
		}
		if flagged {
			chmodTree(src)
			kept = append(kept, src)
			return
		}
		if err := os.Rename(src, dst); err != nil {
			// Something (an agent, through the shared /tmp) took the
			// name: keep the logs under a fresh, unguessable one.
			alt, terr := os.MkdirTemp(filepath.Dir(dst), filepath.Base(dst)+"-*")
			if terr == nil {
				err = os.Rename(src, alt)
			}
			if terr != nil || err != nil {
				failed = true
				log.Warn("preserving logs; they stay in the work dir", "from", src, "err", errors.Join(terr, err))
				return
			}
			log.Warn("preserving logs: " + dst + " already exists; using " + alt)
			dst = alt
		}
		chmodTree(dst)
		kept = append(kept, dst)
	}
	move(d.Egress, filepath.Join(os.TempDir(), "squid-logs-"+d.TS), c.ProxyLogsDir != "")
	move(d.APIProxy, filepath.Join(os.TempDir(), "api-proxy-logs-"+d.TS), c.ProxyLogsDir != "")
	move(d.Audit, filepath.Join(os.TempDir(), "awf-audit-"+d.TS), c.AuditDir != filepath.Join(c.WorkDir, "audit"))
	if c.CLIProxy.Enabled { // as the original's /tmp/cli-proxy-logs-<ts>
		move(CLIProxyLogDir(c), filepath.Join(os.TempDir(), "cli-proxy-logs-"+d.TS), c.ProxyLogsDir != "")
	}
	if failed {
		chmodTree(d.Work)
		kept = append(kept, d.Work)
		return kept
	}
	if err := os.RemoveAll(d.Work); err != nil {
		log.Warn("removing work dir", "err", err)
	}
	return kept
}

func empty(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return true
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	return errors.Is(err, io.EOF)
}
