package helpers

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/awf-dev/awf/internal/agentenv"
	"github.com/awf-dev/awf/internal/credinject"
)

// Problem is one failed pre-flight check.
type Problem struct {
	Check   string // "credentials", "placeholder", "config" or "reachability"
	Message string
}

func (p Problem) String() string { return p.Check + ": " + p.Message }

// DialTCP returns a dial function for Preflight that opens (and closes) a
// TCP connection within timeout.
func DialTCP(timeout time.Duration) func(addr string) error {
	return func(addr string) error {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

type provider struct {
	urlVar   string   // set when the provider goes through the API proxy
	realKeys []string // must be absent
	placed   []string // must be unset or awf's placeholder (agentenv.PlaceholderFor)
	keyShape []string // value prefixes of that provider's real keys
}

var providers = []provider{
	{urlVar: "ANTHROPIC_BASE_URL", realKeys: []string{"ANTHROPIC_API_KEY", "CLAUDE_API_KEY"},
		placed:   []string{"ANTHROPIC_AUTH_TOKEN"},
		keyShape: []string{"sk-ant-"}},
	{urlVar: "OPENAI_BASE_URL", realKeys: []string{"OPENAI_KEY"},
		placed:   []string{"OPENAI_API_KEY", "CODEX_API_KEY"},
		keyShape: []string{"sk-proj-", "sk-svcacct-", "sk-admin-"}},
	{urlVar: "COPILOT_API_URL",
		placed: []string{"COPILOT_GITHUB_TOKEN", "COPILOT_API_KEY", "COPILOT_TOKEN", "COPILOT_PROVIDER_API_KEY"}},
	{urlVar: "GEMINI_API_BASE_URL",
		placed: []string{"GEMINI_API_KEY"}},
}

// githubTokens must be absent whenever the API proxy is on (strict
// security: agentenv never passes them).
var githubTokens = []string{"GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PERSONAL_ACCESS_TOKEN", "GITHUB_API_TOKEN", "GITHUB_PAT", "GH_ACCESS_TOKEN"}

// Preflight checks the command's environment before it starts: with a
// provider routed through the API proxy, no real key for it is present,
// its placeholders are placeholders, and the API proxy and the egress
// proxy answer over TCP. No problems means go. With no proxy variables at
// all there is nothing to check.
func Preflight(env map[string]string, dial func(addr string) error) []Problem {
	var probs []Problem
	type probe struct{ addr, what string }
	var probes []probe
	seen := map[string]bool{}
	addProbe := func(what, raw string) {
		addr, err := hostPort(raw)
		if err != nil {
			probs = append(probs, Problem{"config", fmt.Sprintf("%s=%q is not a usable URL: %v", what, raw, err)})
			return
		}
		if !seen[addr] {
			seen[addr] = true
			probes = append(probes, probe{addr, what})
		}
	}

	for _, p := range providers {
		u := env[p.urlVar]
		if u == "" {
			continue
		}
		for _, k := range p.realKeys {
			if env[k] != "" {
				probs = append(probs, Problem{"credentials", fmt.Sprintf("%s is set although %s routes through the API proxy; the key must stay outside the sandbox", k, p.urlVar)})
			}
		}
		for _, k := range p.placed {
			if v, ok := env[k]; ok && v != agentenv.PlaceholderFor(k) {
				probs = append(probs, Problem{"placeholder", fmt.Sprintf("%s is not the placeholder awf sets; a real credential may have been passed in", k)})
			}
		}
		for _, name := range sortedNames(env) {
			v := env[name]
			if hasPrefix(v, p.keyShape) && !strings.Contains(v, "placeholder") {
				probs = append(probs, Problem{"credentials", fmt.Sprintf("%s holds a value shaped like a real API key (%s...) although %s routes through the API proxy", name, matchedPrefix(v, p.keyShape), p.urlVar)})
			}
		}
		addProbe(p.urlVar, u)
	}
	injected := map[string]bool{}
	for _, k := range strings.Split(env[credinject.EnvList], ",") {
		if k = strings.TrimSpace(k); k != "" {
			injected[k] = true
			if env[k] != credinject.Placeholder {
				probs = append(probs, Problem{"credentials", fmt.Sprintf("%s is injected by the egress proxy (--inject-credential) but holds something other than its placeholder", k)})
			}
		}
	}
	if env["AWF_API_PROXY_IP"] != "" {
		for _, k := range githubTokens {
			if env[k] != "" && !(injected[k] && env[k] == credinject.Placeholder) {
				probs = append(probs, Problem{"credentials", fmt.Sprintf("%s is set although the API proxy is on; GitHub tokens must stay outside the sandbox", k)})
			}
		}
	}
	if pu, other := env["COPILOT_PROVIDER_BASE_URL"], env["COPILOT_API_URL"]; pu != "" && other != "" && pu != other {
		probs = append(probs, Problem{"config", "COPILOT_PROVIDER_BASE_URL differs from COPILOT_API_URL"})
	}
	for _, k := range []string{"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"} {
		if v := env[k]; v != "" {
			addProbe(k, v)
		}
	}

	errs := make([]error, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = dial(p.addr)
		}()
	}
	wg.Wait()
	for i, p := range probes {
		if errs[i] != nil {
			probs = append(probs, Problem{"reachability", fmt.Sprintf("%s (%s) does not answer: %v", p.addr, p.what, errs[i])})
		}
	}
	return probs
}

// Report formats problems for stderr, or "" when there are none.
func Report(probs []Problem) string {
	if len(probs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("[awf] pre-flight check failed; the command was not started:\n")
	for _, p := range probs {
		b.WriteString("  - " + p.String() + "\n")
	}
	return b.String()
}

func hostPort(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("no host")
	}
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		default:
			return "", fmt.Errorf("no port and scheme %q", u.Scheme)
		}
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

func hasPrefix(v string, prefixes []string) bool { return matchedPrefix(v, prefixes) != "" }

func matchedPrefix(v string, prefixes []string) string {
	for _, p := range prefixes {
		if strings.HasPrefix(v, p) {
			return p
		}
	}
	return ""
}

func sortedNames(env map[string]string) []string {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// DefaultProbeTimeout bounds each TCP probe of Check, as the original's
// `timeout 5`.
const DefaultProbeTimeout = 5 * time.Second

// Check runs Preflight with real TCP probes and returns nil, or an error
// whose text is Report's: the shape the sandbox init's hook expects.
func Check(env map[string]string) error {
	if probs := Preflight(env, DialTCP(DefaultProbeTimeout)); len(probs) > 0 {
		return &PreflightError{Problems: probs}
	}
	return nil
}

// PreflightError carries the failed checks.
type PreflightError struct{ Problems []Problem }

func (e *PreflightError) Error() string { return strings.TrimSuffix(Report(e.Problems), "\n") }
