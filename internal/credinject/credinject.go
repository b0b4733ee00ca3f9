// Package credinject gives named hosts a credential that the agent never
// holds (--inject-credential): the value comes from awf's environment, the
// sandbox gets a placeholder, and the egress proxy's TLS inspection sets
// the header on each request to those hosts, over verified TLS to the real
// host. It is the API proxy's key isolation, for any host (git, gh, a
// package registry).
package credinject

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/awf-dev/awf/internal/inspect"
)

// Placeholder is what the sandbox holds in each injected variable, so
// clients that need a token to try (gh) send one, which is replaced.
const Placeholder = "awf-placeholder-credential-injected-by-proxy"

// EnvList names, inside the sandbox, the variables that hold Placeholder
// (names only; the pre-flight check verifies them).
const EnvList = "AWF_INJECTED_CREDENTIALS"

// Rule is one parsed --inject-credential spec:
//
//	HOST[,HOST...]:Header-Name=VALUE
//
// VALUE is literal text with $VAR or ${VAR} taken from awf's environment,
// optionally wrapped in base64(...) after a literal prefix, e.g.
//
//	api.github.com:Authorization=Bearer $GH_TOKEN
//	github.com:Authorization=Basic base64(x-access-token:$GH_TOKEN)
//
// A host is an exact name or *.suffix (subdomains only).
type Rule struct {
	Hosts  []string
	Header string
	prefix string // literal before base64(...), or the whole template
	b64    string // template inside base64(...), "" when none
	Vars   []string
}

var (
	headerRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	varRe    = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)
	hostRe   = regexp.MustCompile(`^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)+$`)
)

// Hop-by-hop and proxy headers cannot carry a credential to the host.
var forbiddenHeaders = []string{"Host", "Connection", "Content-Length", "Transfer-Encoding", "Upgrade",
	"Te", "Trailer", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection"}

// Parse reads one spec; errors name the part that is wrong.
func Parse(spec string) (Rule, error) {
	// The value is never echoed: a shell that expanded $VAR already put
	// the secret there.
	shown, _, _ := strings.Cut(spec, "=")
	bad := func(f string, a ...any) (Rule, error) {
		return Rule{}, fmt.Errorf("--inject-credential %q: %s (format: HOST[,HOST...]:Header=VALUE with $VAR, e.g. 'api.github.com:Authorization=Bearer $GH_TOKEN', in single quotes)", shown+"=…", fmt.Sprintf(f, a...))
	}
	hosts, rest, ok := strings.Cut(spec, ":")
	if !ok {
		return bad("no ':' after the host list")
	}
	header, tmpl, ok := strings.Cut(rest, "=")
	if !ok {
		return bad("no '=' after the header name")
	}
	var r Rule
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		if !hostRe.MatchString(h) || allDigits(h[strings.LastIndex(h, ".")+1:]) {
			return bad("%q is not a host name (exact, or *.domain)", h)
		}
		if !slices.Contains(r.Hosts, h) {
			r.Hosts = append(r.Hosts, h)
		}
	}
	r.Header = strings.TrimSpace(header)
	if !headerRe.MatchString(r.Header) {
		return bad("%q is not a header name", r.Header)
	}
	for _, f := range forbiddenHeaders {
		if strings.EqualFold(f, r.Header) {
			return bad("%s cannot carry a credential", r.Header)
		}
	}
	r.prefix = tmpl
	if i := strings.Index(tmpl, "base64("); i >= 0 {
		if !strings.HasSuffix(tmpl, ")") {
			return bad("base64( must close at the end of the value")
		}
		r.prefix, r.b64 = tmpl[:i], tmpl[i+len("base64("):len(tmpl)-1]
	}
	for _, m := range varRe.FindAllStringSubmatch(r.prefix+r.b64, -1) {
		v := m[1] + m[2]
		if !slices.Contains(r.Vars, v) {
			r.Vars = append(r.Vars, v)
		}
	}
	if len(r.Vars) == 0 {
		return bad("the value names no $VARIABLE (a literal credential, or one the shell expanded, would sit in awf's command line and process list)")
	}
	if strings.ContainsAny(tmpl, "\r\n") {
		return bad("the value has a line break")
	}
	return r, nil
}

// Value renders the header value from getenv; a missing or empty variable
// is an error naming it (never its value).
func (r Rule) Value(getenv func(string) string) (string, error) {
	var missing []string
	expand := func(s string) string {
		return varRe.ReplaceAllStringFunc(s, func(m string) string {
			name := strings.Trim(m, "${}")
			v := getenv(name)
			if v == "" {
				missing = append(missing, name)
			}
			return v
		})
	}
	out := expand(r.prefix)
	if r.b64 != "" {
		out += base64.StdEncoding.EncodeToString([]byte(expand(r.b64)))
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("--inject-credential for %s: $%s is not set in awf's environment", strings.Join(r.Hosts, ","), strings.Join(missing, ", $"))
	}
	if strings.ContainsAny(out, "\r\n\x00") {
		return "", fmt.Errorf("--inject-credential for %s: the value of $%s has a line break or NUL", strings.Join(r.Hosts, ","), strings.Join(r.Vars, ", $"))
	}
	return out, nil
}

// Matches reports whether host (canonical) is one of the rule's.
func (r Rule) Matches(host string) bool {
	for _, h := range r.Hosts {
		if h == host || strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:]) {
			return true
		}
	}
	return false
}

// injection is a rule with its rendered value.
type injection struct {
	Rule
	value string
}

// Hook sets each matching rule's header on inspected requests.
type Hook struct{ inj []injection }

// NewHook renders every rule's value from getenv.
func NewHook(rules []Rule, getenv func(string) string) (*Hook, error) {
	h := &Hook{}
	for _, r := range rules {
		v, err := r.Value(getenv)
		if err != nil {
			return nil, err
		}
		h.inj = append(h.inj, injection{r, v})
	}
	return h, nil
}

func (h *Hook) Name() string { return "inject-credential" }

func (h *Hook) Inspects(host string) bool {
	for _, i := range h.inj {
		if i.Matches(host) {
			return true
		}
	}
	return false
}

// InspectedHosts lists the rules' hosts (never values) for the manifest.
func (h *Hook) InspectedHosts() []string {
	var out []string
	for _, i := range h.inj {
		for _, x := range i.Hosts {
			if !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
	}
	return out
}

// Request replaces whatever the agent sent in each injected header (the
// placeholder, or anything else) with the real value. Whatever the agent
// sent in Authorization is dropped too when another header is injected:
// the host gets exactly one credential, awf's.
func (h *Hook) Request(req *http.Request, host string) *inspect.Block {
	first := true
	for _, i := range h.inj {
		if !i.Matches(host) {
			continue
		}
		if first {
			req.Header.Del("Authorization")
			first = false
		}
		req.Header.Set(i.Header, i.value)
	}
	return nil
}

// Values are the rendered secrets, for scrubbing the agent's environment
// and logs.
func (h *Hook) Values() []string {
	var out []string
	for _, i := range h.inj {
		out = append(out, i.value)
	}
	return out
}

// Vars are the variables the rules read, which the sandbox must not get.
func Vars(rules []Rule) []string {
	var out []string
	for _, r := range rules {
		for _, v := range r.Vars {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

func allDigits(s string) bool {
	return strings.Trim(s, "0123456789") == ""
}
