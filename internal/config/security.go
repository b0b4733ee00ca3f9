package config

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"
)

// Security mode, as the original's (src/commands/validators/security-mode.ts
// and build-config.ts): strict by default. The API proxy is always on, in
// both modes, so API keys and GitHub tokens never enter the sandbox
// (internal/agentenv excludes them). --legacy-security lifts only the
// strict overrides of strictOverrides: the flags that weaken isolation.

// Security is the resolved mode.
type Security struct {
	// Legacy is --legacy-security (or the deprecated --security-mode compat).
	Legacy bool
	// Ignored lists the flags strict mode overrode, without dashes.
	Ignored []string
}

// securityFlags are the raw values of the mode's flags.
type securityFlags struct {
	enableAPIProxy bool   // --enable-api-proxy: deprecated, the proxy is always on
	noAPIProxy     bool   // --no-enable-api-proxy: an error
	legacy         bool   // --legacy-security
	mode           string // --security-mode strict|compat: deprecated
}

func (s *securityFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&s.legacy, "legacy-security", false, "Enable legacy security mode (lifts the strict overrides of --no-network-isolation, --allow-host-service-ports, --enable-dind, --dns-over-https). Default behavior is strict security; the API proxy stays on in both modes")
	fs.BoolVar(&s.enableAPIProxy, "enable-api-proxy", false, "[DEPRECATED] The API proxy is always enabled. This flag is ignored.")
	fs.BoolVar(&s.noAPIProxy, "no-enable-api-proxy", false, "[REMOVED] The API proxy cannot be disabled. Passing this flag is an error.")
	fs.StringVar(&s.mode, "security-mode", "", "[DEPRECATED] Use --legacy-security instead.")
	for _, name := range []string{"enable-api-proxy", "no-enable-api-proxy", "security-mode"} {
		fs.MarkHidden(name)
	}
}

// strictOverride is a flag strict security ignores, with the original's
// warning. set tells whether the user asked for what strict mode refuses.
type strictOverride struct {
	flag string
	set  func(fl *pflag.Flag) bool
	msg  [2]string
}

func given(fl *pflag.Flag) bool { return fl.Changed }

// strictOverrides is the original's list. A row applies only when some
// part of awf registers that flag; the rest of awf then reads the flag's
// default, so no other code needs to know about security modes.
var strictOverrides = []strictOverride{
	{"network-isolation", func(fl *pflag.Flag) bool { return fl.Changed && fl.Value.String() == "false" },
		[2]string{"⚠️  --no-network-isolation was ignored (incompatible with strict security, the default).", "   Pass --legacy-security to disable network isolation."}},
	{"no-network-isolation", func(fl *pflag.Flag) bool { return fl.Changed && fl.Value.String() == "true" },
		[2]string{"⚠️  --no-network-isolation was ignored (incompatible with strict security, the default).", "   Pass --legacy-security to disable network isolation."}},
	{"allow-host-service-ports", given,
		[2]string{"⚠️  --allow-host-service-ports was ignored (incompatible with strict security, the default).", "   Pass --legacy-security to use host service ports."}},
	{"enable-dind", given,
		[2]string{"⚠️  --enable-dind was ignored (incompatible with strict security, the default).", "   Pass --legacy-security to enable Docker-in-Docker."}},
	{"dns-over-https", given,
		[2]string{"⚠️  --dns-over-https was ignored (incompatible with strict security, the default).", "   Pass --legacy-security to use DNS-over-HTTPS."}},
}

// applySecurity resolves the mode, forces the API proxy on and, in strict
// mode, resets the flags strict security ignores. It runs before any other
// flag is read. Messages are the original's.
func (s *securityFlags) apply(fs *pflag.FlagSet, c *Config) ([]Warning, error) {
	var warns []Warning
	warn := func(l slog.Level, msg string) { warns = append(warns, Warning{Level: l, Msg: msg}) }
	set := func(name string) bool { fl := fs.Lookup(name); return fl != nil && fl.Changed }

	if s.noAPIProxy || (set("enable-api-proxy") && !s.enableAPIProxy) {
		return nil, errorf("❌ --no-enable-api-proxy is not allowed. The API proxy is always enabled for credential isolation.\n   Remove the --no-enable-api-proxy flag from your command.")
	}
	if s.enableAPIProxy {
		warn(slog.LevelWarn, "⚠️  --enable-api-proxy is deprecated and no longer needed. The API proxy is always enabled.")
	}
	c.APIProxy.Enabled = true

	switch {
	case set("legacy-security"):
		c.Security.Legacy = s.legacy
	case s.mode == "compat":
		warn(slog.LevelWarn, "⚠️  --security-mode compat is deprecated. Use --legacy-security instead.")
		c.Security.Legacy = true
	case s.mode == "strict":
		warn(slog.LevelWarn, "⚠️  --security-mode is deprecated. Strict security is the default; remove the flag.")
	case set("security-mode"):
		return nil, errorf("option '--security-mode <mode>' argument '%s' is invalid. Allowed choices are strict, compat.", s.mode)
	}
	if c.Security.Legacy {
		warn(slog.LevelInfo, "Running in legacy security mode (the API proxy stays on: API keys and GitHub tokens still never enter the sandbox).")
		return warns, nil
	}
	for _, o := range strictOverrides {
		fl := fs.Lookup(o.flag)
		if fl == nil || !o.set(fl) {
			continue
		}
		if err := resetFlag(fl); err != nil {
			return nil, fmt.Errorf("strict security: resetting --%s: %w", o.flag, err)
		}
		c.Security.Ignored = append(c.Security.Ignored, o.flag)
		warn(slog.LevelWarn, o.msg[0])
		warn(slog.LevelWarn, o.msg[1])
	}
	return warns, nil
}

// resetFlag puts a parsed flag back to its default value, as if not given.
func resetFlag(fl *pflag.Flag) error {
	if sv, ok := fl.Value.(pflag.SliceValue); ok {
		var def []string
		if d := strings.Trim(fl.DefValue, "[]"); d != "" {
			def = strings.Split(d, ",")
		}
		if err := sv.Replace(def); err != nil {
			return err
		}
	} else if err := fl.Value.Set(fl.DefValue); err != nil {
		return err
	}
	fl.Changed = false
	return nil
}
