package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/credinject"
	"github.com/awf-dev/awf/internal/dlp"
	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/egress"
	"github.com/awf-dev/awf/internal/inspect"
	"github.com/awf-dev/awf/internal/logs"
	"github.com/awf-dev/awf/internal/urlrules"
)

// TLS inspection (--ssl-bump): a per-run CA whose key lives only in this
// process's memory (the egress proxy runs here; the sandbox is another PID
// namespace and gets the certificate alone), the hooks built from the
// run's flags, and the sandbox's trust in that CA.

// Where the agent finds the CA: root's, read-only (under /.awf).
const (
	AgentCAFile   = "/.awf/ssl/awf-ca.crt"          // the CA alone (NODE_EXTRA_CA_CERTS)
	AgentCABundle = "/.awf/ssl/ca-certificates.crt" // the system bundle plus the CA
)

// SystemBundles are the system trust bundles clients read by default; each
// that exists on the host is shown in the sandbox with the CA appended.
var SystemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Alpine, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // Fedora, RHEL (p11-kit)
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/ssl/cert.pem",                                 // Alpine, some BSD-derived tools
}

// CAEnv are the variables that point clients at the bundle (or, for Node,
// at the extra CA: NODE_EXTRA_CA_CERTS adds to Node's built-in roots).
var CAEnv = map[string]string{
	"SSL_CERT_FILE":       AgentCABundle, // OpenSSL, Go, Ruby, Python ssl
	"REQUESTS_CA_BUNDLE":  AgentCABundle, // Python requests, pip
	"CURL_CA_BUNDLE":      AgentCABundle, // curl
	"GIT_SSL_CAINFO":      AgentCABundle, // git
	"PIP_CERT":            AgentCABundle,
	"CARGO_HTTP_CAINFO":   AgentCABundle,
	"AWS_CA_BUNDLE":       AgentCABundle,
	"NODE_EXTRA_CA_CERTS": AgentCAFile, // Node.js (npm, yarn, corepack, the agent CLIs)
	"AWF_CA_PATH":         AgentCAFile, // the original's name for it
}

// InspectHooks are the run's inspection hooks, in the order they see each
// request: URL rules first (a refused request is never scanned or given a
// credential). Other policies add their hooks here.
func InspectHooks(c *config.Config) ([]inspect.Hook, error) {
	var hooks []inspect.Hook
	if len(c.Inspect.AllowURLs) > 0 {
		r, err := urlrules.Compile(c.Inspect.AllowURLs)
		if err != nil {
			return nil, err
		}
		hooks = append(hooks, r)
	}
	if c.Inspect.DLP { // after URL rules, before any credential is injected
		hooks = append(hooks, dlp.New(c.Inspect.SSLBump))
	}
	if len(c.Inspect.Credentials) > 0 { // last: nothing after it sees the credential
		h, err := credinject.NewHook(c.Inspect.Credentials, func(k string) string { return c.HostEnv[k] })
		if err != nil {
			return nil, err
		}
		hooks = append(hooks, h)
	}
	return hooks, nil
}

// newInspection makes the run's CA when --ssl-bump is on or a policy
// needs inspection (a hook); nil otherwise.
func newInspection(c *config.Config) (*inspect.CA, []inspect.Hook, error) {
	hooks, err := InspectHooks(c)
	if err != nil {
		return nil, nil, err
	}
	if !c.Inspect.SSLBump && !inspect.NeedsCA(hooks) {
		return nil, hooks, nil // DLP alone judges plain HTTP and names: no CA
	}
	ca, err := inspect.NewCA(inspect.DefaultValidity)
	if err != nil {
		return nil, nil, err
	}
	return ca, hooks, nil
}

// egressInspect is the egress proxy's inspection config.
func egressInspect(ca *inspect.CA, hooks []inspect.Hook) egress.Inspect {
	return egress.Inspect{CA: ca, Hooks: hooks}
}

// caTrust makes the sandbox trust caPEM: the CA file, every system bundle
// that exists on the host with the CA appended (bound over the original),
// and the variables clients read. A bundle the agent's environment already
// names (SSL_CERT_FILE from -e or --env-all) is kept in the new bundle.
func caTrust(caPEM []byte, env map[string]string, files map[string][]byte) map[string][]byte {
	if len(caPEM) == 0 {
		return files
	}
	if files == nil {
		files = map[string][]byte{}
	}
	files[AgentCAFile] = caPEM
	withCA := func(b []byte) []byte {
		if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n")) {
			b = append(b, '\n')
		}
		return append(b, caPEM...)
	}
	var base []byte
	for _, p := range SystemBundles {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if base == nil {
			base = b
		}
		files[p] = withCA(bytes.Clone(b))
	}
	if own := env["SSL_CERT_FILE"]; own != "" && path.IsAbs(own) {
		// awf reads it as root: only certificates are taken from it, so
		// naming another file (-e SSL_CERT_FILE=/etc/shadow) shows nothing.
		if b, err := os.ReadFile(own); err == nil {
			base = append(append(bytes.Clone(base), '\n'), certificatesOnly(b)...)
		}
	}
	files[AgentCABundle] = withCA(bytes.Clone(base))
	if b, ok := files[cliCABundle]; ok { // the CLI proxy's gh reads its own bundle (cliproxy.go)
		files[cliCABundle] = withCA(bytes.Clone(b))
	}
	for k, v := range CAEnv {
		env[k] = v
	}
	return files
}

// inspectNotices say at start what is inspected, and warn about a URL
// rule whose host the allowlist refuses (its requests are denied before
// any URL rule applies, as in the original).
func inspectNotices(hooks []inspect.Hook, pol *domains.Policy) []config.Warning {
	var out []config.Warning
	for _, h := range hooks {
		hosts := []string{"*"}
		if hl, ok := h.(inspect.HostLister); ok {
			hosts = hl.InspectedHosts()
		}
		if len(hosts) == 0 { // DLP without --ssl-bump: its own notice (config)
			continue
		}
		out = append(out, config.Warning{Level: slog.LevelInfo,
			Msg: fmt.Sprintf("TLS inspection (%s): %s; every other host is tunnelled", h.Name(), strings.Join(hosts, ", "))})
		if h.Name() != urlrules.Rule {
			continue
		}
		for _, host := range hosts {
			name, _, _ := strings.Cut(host, ":")
			if strings.Contains(name, "*") || pol == nil {
				continue
			}
			if d := pol.Decide(name, domains.HTTPS); !d.Allowed {
				out = append(out, config.Warning{Level: slog.LevelWarn,
					Msg: fmt.Sprintf("--allow-urls names %s, which --allow-domains does not admit: its requests are refused before URL rules apply", name)})
			}
		}
	}
	return out
}

// certificatesOnly re-encodes the CERTIFICATE blocks of b, nothing else.
func certificatesOnly(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" && len(blk.Headers) == 0 {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: blk.Bytes})...)
		}
	}
	return out
}

// inspectManifest records inspection in the policy manifest: the CA's
// fingerprint, the hooks, the URL rules (with the regular expressions
// they mean) and the hosts they inspect.
func inspectManifest(c *config.Config, caPEM []byte, rules []logs.Rule, mo *logs.ManifestOptions) []logs.Rule {
	if c.Inspect.DLP {
		mo.DLP = true
		rules = dlpRule(rules)
	}
	if len(caPEM) == 0 { // no CA: nothing is inspected
		return rules
	}
	mo.SSLBump = true
	info := &logs.InspectionInfo{Hooks: []string{}, URLRules: []logs.URLRule{}, InspectedHosts: []string{}}
	sum := sha256.Sum256(caPEM)
	info.CACertSHA256 = hex.EncodeToString(sum[:])
	if hooks, err := InspectHooks(c); err == nil {
		for _, h := range hooks {
			info.Hooks = append(info.Hooks, h.Name())
			hosts := []string{"*"}
			if hl, ok := h.(inspect.HostLister); ok {
				hosts = hl.InspectedHosts()
			}
			for _, x := range hosts {
				if !slices.Contains(info.InspectedHosts, x) {
					info.InspectedHosts = append(info.InspectedHosts, x)
				}
			}
		}
	}
	for _, u := range c.Inspect.AllowURLs {
		info.URLRules = append(info.URLRules, logs.URLRule{Pattern: u, Regex: urlrules.Regex(u)})
	}
	mo.Inspection = info
	if len(c.Inspect.AllowURLs) == 0 {
		return rules
	}
	r := logs.Rule{ID: urlrules.Rule, Action: "deny", ACLName: "allowed_url_*", Protocol: "https",
		Domains:     append([]string{}, c.Inspect.AllowURLs...),
		Description: "Inspected HTTPS requests to a host an --allow-urls pattern names must match a pattern"}
	// Before the final default deny, which stays last.
	if n := len(rules); n > 0 && rules[n-1].Action == "deny" {
		out := append(append([]logs.Rule{}, rules[:n-1]...), r, rules[n-1])
		for i := range out {
			out[i].Order = 0
		}
		return out
	}
	return append(rules, r)
}

// dlpRule places the original's deny-dlp rule where its Squid config has
// it: after the raw-IP denials, before the blocklist and the allow rules.
func dlpRule(rules []logs.Rule) []logs.Rule {
	r := logs.Rule{ID: dlp.Rule, Action: "deny", ACLName: "dlp_blocked", Protocol: "both", Domains: []string{},
		Description: "Deny requests containing credential patterns in URLs (DLP)"}
	at := 0
	for i, x := range rules {
		if x.ID == domains.RuleDenyRawIPv4 || x.ID == domains.RuleDenyRawIPv6 {
			at = i + 1
		}
	}
	out := append(append(append([]logs.Rule{}, rules[:at]...), r), rules[at:]...)
	for i := range out {
		out[i].Order = 0
	}
	return out
}
