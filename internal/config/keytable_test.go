package config

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/awf-dev/awf/internal/configfile"
)

// keyStatus says what a config key does in this build: the flag it sets
// and whether that flag is honoured, a compatibility notice, refused, or
// not registered yet.
func keyStatus(fs *pflag.FlagSet) []string {
	class := map[string]compatClass{}
	why := map[string]string{}
	for _, r := range compatTable {
		class[r.name], why[r.name] = r.class, r.why
	}
	var rows []string
	for _, r := range configfile.Rules() {
		var flag, status string
		switch {
		case r.Flag == "" && r.Path == "$schema":
			status = "accepted (editor hint)"
		case r.Flag == "" && strings.HasPrefix(r.Why, "refused: "):
			status = "**refused**: " + strings.TrimPrefix(r.Why, "refused: ")
		case r.Flag == "":
			status = "notice: " + r.Why
		default:
			flag = "`--" + r.Flag + "`"
			switch c, ok := class[r.Flag]; {
			case fs.Lookup(r.Flag) == nil:
				status = "notice: not yet supported (flag not registered in this build)"
			case !ok:
				status = "honoured"
			case c == compatRefuse:
				status = "**refused** when set: " + why[r.Flag]
			case c == compatNotYet:
				status = "notice: not yet supported: " + why[r.Flag]
			default:
				status = "notice: Docker/microVM only"
				if why[r.Flag] != "" {
					status += " (" + why[r.Flag] + ")"
				}
			}
		}
		switch r.Path {
		case "network.isolation":
			flag = "`--network-isolation` / `--no-network-isolation`"
			status = "notice: " + whyTopology + " (false: strict mode's warning, as the original)"
		case "rateLimiting.enabled":
			status = "honoured (false = `--no-rate-limit`)"
		case "security.securityMode":
			status = "honoured (compat = `--legacy-security`)"
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s |", r.Path, flag, status))
	}
	return rows
}

// TestKeyTable prints the README's key table (AWF_PRINT_KEY_TABLE=1) and
// checks every mapped flag exists or is reported as not registered.
func TestKeyTable(t *testing.T) {
	fs := pflag.NewFlagSet("awf", pflag.ContinueOnError)
	Register(fs)
	rows := keyStatus(fs)
	if len(rows) < 100 {
		t.Fatalf("%d rows", len(rows))
	}
	if os.Getenv("AWF_PRINT_KEY_TABLE") == "1" {
		fmt.Println("| key | flag | in the native runtime |\n|---|---|---|\n" + strings.Join(rows, "\n"))
	}
}
