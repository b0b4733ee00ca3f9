package agentenv

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/credinject"
)

// Input is everything the two environments depend on.
type Input struct {
	HostEnv  map[string]string
	APIProxy bool
	// Keys are the real credentials (config.ReadKeys). Their values never
	// reach the agent map when APIProxy is set.
	Keys      config.Keys
	Targets   config.Targets
	RateLimit config.RateLimit

	// Injected are the variables --inject-credential reads: the command
	// gets credinject.Placeholder in each, and no variable holding one of
	// their values survives.
	Injected []string

	EnvAll  bool
	EnvFile []config.EnvVar
	Extra   []config.EnvVar // -e, in order
	Exclude []string

	TTY        bool
	User       config.Identity
	Workdir    string // "" means User.Home
	DNSServers []string
	GitHubPath []string

	// Addresses; zero values mean the defaults.
	ProxyIP         string
	ProxyPort       int
	APIProxyIP      string
	ClaudeKeyHelper string
}

// FromConfig fills an Input from a Config with the default addresses.
func FromConfig(c *config.Config) Input {
	return Input{
		HostEnv:    c.HostEnv,
		APIProxy:   c.APIProxy.Enabled,
		Keys:       c.APIProxy.Keys,
		Targets:    c.APIProxy.Targets,
		RateLimit:  c.APIProxy.RateLimit,
		Injected:   credinject.Vars(c.Inspect.Credentials),
		EnvAll:     c.Env.All,
		EnvFile:    c.Env.FileVars,
		Extra:      c.Env.Extra,
		Exclude:    c.Env.Exclude,
		TTY:        c.TTY,
		User:       c.User,
		Workdir:    c.ContainerWorkdir,
		DNSServers: c.DNSServers,
		GitHubPath: c.GitHubPath,
	}
}

func (in Input) withDefaults() Input {
	if in.ProxyIP == "" {
		in.ProxyIP = DefaultProxyIP
	}
	if in.ProxyPort == 0 {
		in.ProxyPort = DefaultProxyPort
	}
	if in.APIProxyIP == "" {
		in.APIProxyIP = DefaultAPIProxyIP
	}
	if in.ClaudeKeyHelper == "" {
		in.ClaudeKeyHelper = ClaudeKeyHelperPath
	}
	if in.HostEnv == nil {
		in.HostEnv = map[string]string{}
	}
	return in
}

// Dropped records a variable Build refused to give the command, and why.
type Dropped struct {
	Name, Source, Reason string
}

func (d Dropped) String() string {
	return fmt.Sprintf("%s (from %s): %s", d.Name, d.Source, d.Reason)
}

// Result is Build's full answer.
type Result struct {
	Agent   map[string]string
	Sidecar map[string]string // nil when the API proxy is off
	Dropped []Dropped
}

// Build returns the command's environment and the api-proxy's.
func Build(in Input) (agent, sidecar map[string]string) {
	r := BuildResult(in)
	return r.Agent, r.Sidecar
}

// BuildResult is Build with the list of refused variables, for warnings.
//
// Precedence, lowest first (as in the original): proxy settings and
// basics; placeholders; passthrough (--env-all or the default list);
// --env-file; -e; then awf's own AWF_* and API-proxy variables, which -e
// cannot replace. Last, with the API proxy on, every credential name and
// every value containing a real key is removed, whatever its source.
func BuildResult(in Input) Result {
	in = in.withDefaults()
	host := in.HostEnv
	a := map[string]string{}
	var dropped []Dropped
	protected := map[string]bool{}

	proxy := "http://" + hostPort(in.ProxyIP, in.ProxyPort)
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		a[k] = proxy
	}
	a["SQUID_PROXY_HOST"] = in.ProxyIP
	a["SQUID_PROXY_PORT"] = strconv.Itoa(in.ProxyPort)
	a["HOME"] = in.User.Home
	a["PATH"] = hostPath(host["PATH"], in.GitHubPath)
	a["AWF_HOST_PATH"] = a["PATH"]
	a["AWF_ONE_SHOT_TOKENS"] = strings.Join(OneShotTokens, ",")
	if in.User.Name != "" {
		a["USER"] = in.User.Name
		a["LOGNAME"] = in.User.Name
	}
	if in.TTY {
		a["FORCE_COLOR"], a["TERM"], a["COLUMNS"] = "1", "xterm-256color", "120"
	} else {
		a["NO_COLOR"] = "1"
		if t := host["TERM"]; t != "" {
			a["TERM"] = t
		}
	}

	// Placeholders first, so no passthrough can replace them.
	place, pv := placeholders(in), providerVars(in)
	for _, k := range in.Injected {
		place[k] = credinject.Placeholder
	}
	if len(in.Injected) > 0 {
		place[credinject.EnvList] = strings.Join(in.Injected, ",")
	}
	for k, v := range place {
		a[k] = v
		protected[k] = true
	}
	for k := range pv {
		protected[k] = true
	}
	a["NO_PROXY"] = noProxy(in, "")
	a["no_proxy"] = a["NO_PROXY"]

	for _, k := range toolHomes {
		if v := host[k]; v != "" {
			a["AWF_"+k] = v
		}
	}

	excluded := map[string]bool{}
	for _, k := range alwaysExcluded {
		excluded[k] = true
	}
	if in.APIProxy {
		for _, k := range isolated {
			excluded[k] = true
		}
	}
	for _, k := range in.Exclude {
		excluded[k] = true
	}

	if in.EnvAll {
		for _, k := range sortedKeys(host) {
			if _, set := a[k]; !set && !excluded[k] && config.ValidEnvName(k) {
				a[k] = host[k]
			}
		}
	} else {
		names := defaultPassthrough
		if !in.APIProxy {
			names = append(slices.Clone(names), keyPassthrough...)
		}
		for _, k := range names {
			if _, set := a[k]; !set && host[k] != "" && !excluded[k] {
				a[k] = host[k]
			}
		}
	}
	if h := hostOf(host["GITHUB_SERVER_URL"]); h != "" && h != "github.com" {
		a["GH_HOST"] = h
	} else {
		delete(a, "GH_HOST")
	}
	if v, ok := host["AWF_ONE_SHOT_TOKEN_DEBUG"]; ok {
		a["AWF_ONE_SHOT_TOKEN_DEBUG"] = v
	}

	for _, v := range in.EnvFile {
		if _, set := a[v.Name]; !set && !excluded[v.Name] {
			a[v.Name] = v.Value
		}
	}

	userNoProxy := ""
	for _, v := range in.Extra {
		if protected[v.Name] {
			dropped = append(dropped, Dropped{v.Name, "-e", "set by awf for the API proxy; -e cannot replace it"})
			continue
		}
		if in.APIProxy && slices.Contains(isolated, v.Name) {
			dropped = append(dropped, Dropped{v.Name, "-e", isolatedReason})
			continue
		}
		a[v.Name] = v.Value
		if v.Name == "NO_PROXY" || v.Name == "no_proxy" {
			userNoProxy = v.Value
		}
	}
	if userNoProxy != "" {
		// Keep the entries the command needs to reach the API proxy directly.
		a["NO_PROXY"] = noProxy(in, userNoProxy)
		a["no_proxy"] = a["NO_PROXY"]
	}

	a["JAVA_TOOL_OPTIONS"] = javaOptions(a["JAVA_TOOL_OPTIONS"], in, a["NO_PROXY"])

	// awf's own variables come last: they describe the sandbox.
	if len(in.DNSServers) > 0 {
		a["AWF_DNS_SERVERS"] = strings.Join(in.DNSServers, ",")
	}
	a["AWF_WORKDIR"] = in.Workdir
	if a["AWF_WORKDIR"] == "" {
		a["AWF_WORKDIR"] = in.User.Home
	}
	a["AWF_USER_UID"] = strconv.Itoa(in.User.UID)
	a["AWF_USER_GID"] = strconv.Itoa(in.User.GID)
	for k, v := range pv {
		a[k] = v
	}
	for k, v := range place {
		a[k] = v
	}
	// The one-shot list is a protection, not a preference: -e cannot shrink it.
	a["AWF_ONE_SHOT_TOKENS"] = strings.Join(OneShotTokens, ",")

	var injected []string
	for _, k := range in.Injected {
		injected = append(injected, host[k])
	}
	if in.APIProxy || len(injected) > 0 {
		own := maps.Clone(pv)
		maps.Copy(own, place)
		secrets := injected
		if in.APIProxy {
			secrets = append(in.Keys.Values(), injected...)
		}
		dropped = append(dropped, scrub(a, own, secrets)...)
	}
	return Result{Agent: a, Sidecar: sidecarEnv(in), Dropped: dropped}
}

// placeholders are the fake credentials the command gets with the API
// proxy (placeholderRules).
func placeholders(in Input) map[string]string {
	p := map[string]string{}
	if !in.APIProxy {
		return p
	}
	for _, r := range placeholderRules {
		if r.When(in.Keys) {
			p[r.Name] = r.Value
		}
	}
	return p
}

// providerVars point the SDKs at the API proxy.
func providerVars(in Input) map[string]string {
	p := map[string]string{}
	if !in.APIProxy {
		return p
	}
	base := func(port int) string { return "http://" + hostPort(in.APIProxyIP, port) }
	k := in.Keys
	p["AWF_API_PROXY_IP"] = in.APIProxyIP
	if hasOpenAI(k) {
		p["OPENAI_BASE_URL"] = base(PortOpenAI) + "/v1"
	}
	if k.Google != "" {
		// The Gemini CLI with GOOGLE_GENAI_USE_VERTEXAI=true reads it.
		p["GOOGLE_VERTEX_BASE_URL"] = base(PortVertex)
	}
	if hasAnthropic(k) {
		p["ANTHROPIC_BASE_URL"] = base(PortAnthropic)
		p["CLAUDE_CODE_API_KEY_HELPER"] = in.ClaudeKeyHelper
	}
	if k.Copilot() {
		p["COPILOT_API_URL"] = base(PortCopilot)
	}
	if hasBYOK(k) {
		p["COPILOT_OFFLINE"] = "true"
		p["COPILOT_PROVIDER_BASE_URL"] = base(PortCopilot)
	}
	p["GEMINI_API_BASE_URL"] = base(PortGemini)
	// @google/genai and the Gemini CLI read GOOGLE_GEMINI_BASE_URL, not the
	// original's name (gap 3); the CLI also needs its auth type chosen by a
	// root-owned defaults file awf writes (gap 4).
	p["GOOGLE_GEMINI_BASE_URL"] = base(PortGemini)
	p["GEMINI_CLI_SYSTEM_DEFAULTS_PATH"] = GeminiSystemDefaultsPath
	return p
}

// javaOptions appends the JVM's proxy properties (the JVM ignores
// HTTP_PROXY), as the original's entrypoint does.
func javaOptions(existing string, in Input, noProxy string) string {
	port := strconv.Itoa(in.ProxyPort)
	opts := "-Dhttp.proxyHost=" + in.ProxyIP + " -Dhttp.proxyPort=" + port +
		" -Dhttps.proxyHost=" + in.ProxyIP + " -Dhttps.proxyPort=" + port
	if noProxy != "" {
		hosts := strings.ReplaceAll(noProxy, ",", "|")
		opts += " -Dhttp.nonProxyHosts=" + hosts + " -Dhttps.nonProxyHosts=" + hosts
	}
	if existing = strings.TrimSpace(existing); existing != "" {
		return existing + " " + opts
	}
	return opts
}

// noProxy is the spec's list (localhost,127.0.0.1 and, with the API proxy,
// its address) merged after any list the user gave with -e.
func noProxy(in Input, user string) string {
	var out []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, s := range strings.Split(user, ",") {
		add(s)
	}
	add("localhost")
	add("127.0.0.1")
	if in.APIProxy {
		add(in.APIProxyIP)
	}
	return strings.Join(out, ",")
}

// minContained is the shortest key whose appearance inside a longer value
// counts as a leak; shorter keys must match a value exactly, or nearly
// every variable would contain them.
const minContained = 8

// isolatedReason is why an isolated credential is refused.
const isolatedReason = "API keys and GitHub tokens never enter the sandbox (strict security; the API proxy holds the keys)"

// scrub removes the isolated credentials awf did not set itself (own) and
// any value that carries a real key, whatever set them.
func scrub(a, own map[string]string, secrets []string) []Dropped {
	var out []Dropped
	for _, k := range isolated {
		if v, ok := a[k]; ok && v != own[k] {
			delete(a, k)
			out = append(out, Dropped{k, "environment", isolatedReason})
		}
	}
	for _, k := range sortedKeys(a) {
		if leaks(a[k], secrets) {
			delete(a, k)
			out = append(out, Dropped{k, "environment", "its value contains a real API key"})
		}
	}
	return out
}

func leaks(v string, secrets []string) bool {
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if v == s || (len(s) >= minContained && strings.Contains(v, s)) {
			return true
		}
	}
	return false
}

// sidecarEnv is the api-proxy's environment: the real keys, the targets,
// the egress proxy it must go through, and the rate limits.
func sidecarEnv(in Input) map[string]string {
	if !in.APIProxy {
		return nil
	}
	s := map[string]string{}
	k := in.Keys
	for name, v := range map[string]string{
		"OPENAI_API_KEY": k.OpenAI, "ANTHROPIC_API_KEY": k.Anthropic, "COPILOT_GITHUB_TOKEN": k.CopilotGitHubToken,
		"COPILOT_API_KEY": k.CopilotAPIKey, "GEMINI_API_KEY": k.Gemini,
		"OPENAI_API_TARGET": in.Targets.OpenAI, "ANTHROPIC_API_TARGET": in.Targets.Anthropic,
		"COPILOT_API_TARGET": in.Targets.Copilot, "GEMINI_API_TARGET": in.Targets.Gemini,
		"OPENAI_API_BASE_PATH": in.Targets.OpenAIBasePath, "ANTHROPIC_API_BASE_PATH": in.Targets.AnthropicBasePath,
		"GEMINI_API_BASE_PATH": in.Targets.GeminiBasePath,
		"GITHUB_SERVER_URL":    in.HostEnv["GITHUB_SERVER_URL"],
	} {
		if v != "" {
			s[name] = v
		}
	}
	proxy := "http://" + hostPort(in.ProxyIP, in.ProxyPort)
	for _, n := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		s[n] = proxy
	}
	s["NO_PROXY"] = "localhost,127.0.0.1,::1"
	s["no_proxy"] = s["NO_PROXY"]
	rl := in.RateLimit
	rpm, rph, bpm := rl.RPM, rl.RPH, rl.BytesPM
	if !rl.Enabled {
		rpm, rph, bpm = config.DefaultRPM, config.DefaultRPH, config.DefaultBytesPM
	}
	s["AWF_RATE_LIMIT_ENABLED"] = strconv.FormatBool(rl.Enabled)
	s["AWF_RATE_LIMIT_RPM"] = strconv.Itoa(rpm)
	s["AWF_RATE_LIMIT_RPH"] = strconv.Itoa(rph)
	s["AWF_RATE_LIMIT_BYTES_PM"] = strconv.Itoa(bpm)
	return s
}

// hostPath is the host's PATH with the $GITHUB_PATH entries in front, the
// file's last line first (as Actions orders them), without duplicates.
func hostPath(hostPATH string, ghPath []string) string {
	if hostPATH == "" {
		hostPATH = StandardPath
	}
	var out []string
	for i := len(ghPath) - 1; i >= 0; i-- {
		if !slices.Contains(out, ghPath[i]) {
			out = append(out, ghPath[i])
		}
	}
	for _, p := range strings.Split(hostPATH, ":") {
		if p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return strings.Join(out, ":")
}

func hostPort(ip string, port int) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:" + strconv.Itoa(port)
	}
	return ip + ":" + strconv.Itoa(port)
}

func hostOf(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
