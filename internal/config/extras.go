package config

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/awf-dev/awf/internal/ruleset"
)

// The original's flags that have a real meaning in the native runtime and
// no other home: --ruleset-file, --session-state-dir, --diagnostic-logs,
// --dns-over-https, --pids-limit. flags.go registers and calls these.

// Extras is their resolved configuration.
type Extras struct {
	// RulesetFiles were merged into AllowDomains (in order).
	RulesetFiles []string
	// SessionStateDir is where the agent's ~/.copilot/session-state lives
	// on the host ("" = inside the run only). --session-state-dir, else
	// AWF_SESSION_STATE_DIR, as the original.
	SessionStateDir string
	// DiagnosticLogs: on a non-zero exit, collect the proxies' log tails,
	// the exit state and the redacted config (internal/diagnostics).
	DiagnosticLogs bool
	// DNSOverHTTPS is the DoH resolver URL the egress proxy resolves
	// admitted names through ("" = plain DNS).
	DNSOverHTTPS string
	// PidsLimit caps the command's processes and threads (cgroup pids.max).
	PidsLimit int64
}

// DefaultDoHResolver is the original's default for a bare --dns-over-https.
const DefaultDoHResolver = "https://dns.google/dns-query"

// DefaultPidsLimit is the original's --pids-limit default.
const DefaultPidsLimit = 1000

var digits = regexp.MustCompile(`^[0-9]+$`)

type extraFlags struct {
	rulesets        []string
	sessionStateDir string
	diagnosticLogs  bool
	doh             string
	pidsLimit       string
}

func (x *extraFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&x.rulesets, "ruleset-file", nil, "YAML rule `file` for domain allowlisting (repeatable). Schema: version: 1, rules: [{domain, subdomains}]")
	fs.StringVar(&x.sessionStateDir, "session-state-dir", "", "`Directory` to save Copilot CLI session state (events.jsonl, session data); shown to the command as ~/.copilot/session-state (env AWF_SESSION_STATE_DIR)")
	fs.BoolVar(&x.diagnosticLogs, "diagnostic-logs", false, "On a non-zero exit, collect the proxies' log tails, the exit state and the redacted config into <audit-dir>/diagnostics")
	fs.StringVar(&x.doh, "dns-over-https", "", "Resolve admitted names through this DNS-over-HTTPS `resolver-url` (default when given bare: "+DefaultDoHResolver+")")
	fs.Lookup("dns-over-https").NoOptDefVal = DefaultDoHResolver
	fs.StringVar(&x.pidsLimit, "pids-limit", strconv.Itoa(DefaultPidsLimit), "Process/thread ceiling (`limit`) for the command")
}

// fixArgs gives --dns-over-https the original's optional-value parsing:
// commander takes the next word as the URL (`--dns-over-https https://x
// -- cmd`), pflag leaves it as the first command word. A first word that
// is an https:// URL is never a command, so take it back (and the `--`
// after it).
func (x *extraFlags) fixArgs(fs *pflag.FlagSet, args []string) []string {
	fl := fs.Lookup("dns-over-https")
	if fl == nil || !fl.Changed || x.doh != DefaultDoHResolver || len(args) == 0 || !strings.HasPrefix(args[0], "https://") {
		return args
	}
	x.doh = args[0]
	args = args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	return args
}

// mergeRulesets adds the ruleset files' domains to allow, after the
// --allow-domains entries, as the original (before API targets are added
// and the list is validated).
func (x *extraFlags) mergeRulesets(sys System, c *Config, allow []string) ([]string, []Warning, error) {
	if len(x.rulesets) == 0 {
		return allow, nil, nil
	}
	more, exact, err := ruleset.Load(sys.ReadFile, x.rulesets)
	if err != nil {
		return nil, nil, errorf("Failed to load ruleset file: %v", err)
	}
	c.Extras.RulesetFiles = append([]string(nil), x.rulesets...)
	var warns []Warning
	for _, d := range exact {
		warns = append(warns, Warning{Level: slog.LevelWarn, Msg: fmt.Sprintf("Ruleset rule %q has subdomains: false; as in the original this field is reserved and the domain still admits its subdomains", d)})
	}
	return dedupe(append(allow, more...)), warns, nil
}

// build resolves the rest into c.Extras.
func (x *extraFlags) build(fs *pflag.FlagSet, env map[string]string, c *Config) ([]Warning, error) {
	var warns []Warning
	c.Extras.SessionStateDir = x.sessionStateDir
	if c.Extras.SessionStateDir == "" {
		c.Extras.SessionStateDir = env["AWF_SESSION_STATE_DIR"]
	}
	if d := c.Extras.SessionStateDir; d != "" {
		if !filepath.IsAbs(d) {
			return nil, errorf("--session-state-dir must be an absolute path: %s", d)
		}
		c.Extras.SessionStateDir = filepath.Clean(d)
	}
	c.Extras.DiagnosticLogs = x.diagnosticLogs

	if fl := fs.Lookup("dns-over-https"); fl != nil && fl.Changed {
		u := x.doh
		if !strings.HasPrefix(u, "https://") {
			return nil, errorf("--dns-over-https resolver URL must start with https://")
		}
		c.Extras.DNSOverHTTPS = u
		warns = append(warns, Warning{Level: slog.LevelInfo, Msg: "DNS-over-HTTPS enabled: " + u})
	}

	if !digits.MatchString(x.pidsLimit) {
		return nil, errorf("Invalid --pids-limit value \"%s\". Expected a positive integer (e.g., 1000, 2000).", x.pidsLimit)
	}
	n, err := strconv.ParseInt(x.pidsLimit, 10, 64)
	if err != nil || n <= 0 || n > 1<<53 {
		return nil, errorf("Invalid --pids-limit value \"%s\". pids-limit must be a positive integer.", x.pidsLimit)
	}
	c.Extras.PidsLimit = n
	return warns, nil
}
