package cliproxy

import (
	"fmt"
	"regexp"
	"strings"
)

// ProtectedEnvKeys can never be set through /exec's env field (the
// original's list: routing, auth and trust-store variables).
var ProtectedEnvKeys = []string{"GH_HOST", "GH_TOKEN", "GITHUB_TOKEN", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "GIT_SSL_CAINFO"}

// DeniedSubcommands modify gh itself rather than GitHub resources; they
// are always refused (the original's set).
var DeniedSubcommands = []string{"alias", "auth", "config", "extension",
	// Stricter: browse starts a browser program ($BROWSER, xdg-open) with
	// the token in its environment; there is no browser to open anyway.
	"browse"}

// AllowedEnvKeys is what /exec's env field may set. The original admits
// any key but the protected ones; here gh runs beside the agent's files,
// so a key such as GH_CONFIG_DIR, XDG_DATA_HOME (extensions), BROWSER,
// GIT_* or LD_PRELOAD would let the agent run code next to the token:
// only these harmless ones pass, the rest are dropped and logged.
var AllowedEnvKeys = regexp.MustCompile(`^(GH_REPO|GH_PROMPT_DISABLED|GH_NO_UPDATE_NOTIFIER|GH_SPINNER_DISABLED|NO_COLOR|CLICOLOR|CLICOLOR_FORCE|GH_FORCE_TTY|TZ|LANG|LC_[A-Z]+)$`)

// ValidateArgs applies the original's rule: the first word that is not a
// flag (or a flag's separate value) is the subcommand, and meta-commands
// are refused. Stricter: the `--` separator is refused too, since after it
// gh hands arguments to git (`gh repo clone r -- --config ...`), which can
// run commands with the token in their environment.
func ValidateArgs(args []string) error {
	for _, a := range args {
		if a == "--" {
			return fmt.Errorf("Argument '--' is not permitted (git pass-through)")
		}
	}
	sub := ""
	for i := 0; i < len(args); {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if !strings.Contains(a, "=") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i += 2
			} else {
				i++
			}
			continue
		}
		sub = a
		break
	}
	// The scan above is the original's; gh (cobra) finds its command
	// differently ("--hostname - auth token" is `auth token --hostname -`
	// to gh, and "" is skipped), so gh's own reading is judged too.
	for _, s := range []string{sub, cobraSub(args)} {
		if d := deniedName(s); d != "" {
			return fmt.Errorf("Subcommand '%s' is not permitted", d)
		}
	}
	return nil
}

// deniedAliases are gh's own aliases of denied subcommands.
var deniedAliases = map[string]string{"ext": "extension", "extensions": "extension"}

// deniedName is the denied subcommand s names, or "".
func deniedName(s string) string {
	if d, ok := deniedAliases[s]; ok {
		return d
	}
	for _, d := range DeniedSubcommands {
		if s == d {
			return d
		}
	}
	return ""
}

// cobraSub is the first command word as gh's command parser (cobra's
// stripFlags) finds it: "--" ends the search; "--name" and "-c" without
// "=" take the next word unless they are gh's boolean root flags (help,
// version), and end the search when at most one word follows; empty words
// and other flags are skipped.
func cobraSub(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		long := strings.HasPrefix(a, "--") && !strings.Contains(a, "=") && a != "--help" && a != "--version"
		short := !strings.HasPrefix(a, "--") && strings.HasPrefix(a, "-") && len(a) == 2 && a != "-h"
		switch {
		case a == "--":
			return ""
		case long || short:
			if len(args)-i-1 <= 1 {
				return ""
			}
			i++
		case a != "" && !strings.HasPrefix(a, "-"):
			return a
		}
	}
	return ""
}

// FilterEnv keeps the caller's variables that may be set and names the
// dropped ones.
func FilterEnv(extra map[string]any) (keep map[string]string, dropped []string) {
	keep = map[string]string{}
	for k, v := range extra {
		s, ok := v.(string)
		protected := false
		for _, p := range ProtectedEnvKeys {
			protected = protected || k == p
		}
		if !ok || protected || !AllowedEnvKeys.MatchString(k) {
			dropped = append(dropped, k)
			continue
		}
		keep[k] = s
	}
	return keep, dropped
}
