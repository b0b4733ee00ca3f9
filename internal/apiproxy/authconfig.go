package apiproxy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/awf-dev/awf/internal/cloudauth"
)

// AuthConfig is how requests are authenticated beyond "the provider's key
// in the provider's header". FromEnv fills it from the original sidecar's
// variables; New turns OIDC into Dynamic credentials.
type AuthConfig struct {
	// Headers: provider -> custom credential header (AWF_OPENAI_AUTH_HEADER,
	// AWF_ANTHROPIC_AUTH_HEADER), for internal AI gateways.
	Headers map[string]string
	// AzureBYOK: COPILOT_PROVIDER_TYPE=azure. Port 10000 routes to the
	// COPILOT_PROVIDER_BASE_URL deployment with the BYOK key in api-key.
	AzureBYOK bool
	Copilot   CopilotAuth
	// OIDC is the GitHub Actions OIDC setup read from AWF_AUTH_* (nil: none).
	OIDC *cloudauth.Spec
	// Dynamic: provider -> run-time credential (built by New from OIDC, or
	// set directly by tests and embedders).
	Dynamic map[string]DynamicCredential
	// OIDCRequested: provider -> the auth type asked for, even when it could
	// not be set up; OIDCProblem: why not (the agent's error).
	OIDCRequested map[string]string
	OIDCProblem   map[string]string
}

// CopilotAuth is Copilot's credential choice.
type CopilotAuth struct {
	GitHubToken string // COPILOT_GITHUB_TOKEN, "Bearer "/"token " prefix removed
	BYOKKey     string // COPILOT_API_KEY or COPILOT_PROVIDER_API_KEY (placeholders ignored)
	// TokenPrefix goes before the GitHub token: "token" for GHES and the
	// enterprise/business and GHE Cloud (copilot-api.<tenant>.ghe.com)
	// endpoints, "Bearer" otherwise (AWF_COPILOT_TOKEN_PREFIX overrides).
	TokenPrefix   string
	IntegrationID string            // Copilot-Integration-Id (COPILOT_INTEGRATION_ID, default agentic-workflows)
	ExtraHeaders  map[string]string // AWF_BYOK_EXTRA_HEADERS (+ x-session-id), BYOK requests only
	ExtraBody     map[string]string // AWF_BYOK_EXTRA_BODY_FIELDS (+ session_id), added to BYOK JSON bodies when absent
	SessionID     string            // AWF_PROVIDER_SESSION_ID
	// InteractionID is X-Interaction-Id: <GITHUB_RUN_ID>-<GITHUB_RUN_ATTEMPT>,
	// else a random UUID, fixed for the process (Copilot keys its prompt
	// cache on it).
	InteractionID string
	CatalogTarget bool // the target is a GitHub Copilot endpoint
	AzureBYOK     bool
}

// The agent's placeholders, never a real BYOK key (agentenv sets them).
var copilotPlaceholders = map[string]bool{
	"ghu_" + strings.Repeat("a", 36):             true,
	"dummy-byok-key-for-offline-mode":            true,
	"placeholder-token-for-credential-isolation": true,
}

var headerNameRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// protectedHeaders can be neither a custom auth header's replacement target
// for BYOK extra headers nor set by them.
var protectedHeaders = map[string]bool{"authorization": true, "x-api-key": true, "x-goog-api-key": true, "proxy-authorization": true, "host": true}

// stripTokenPrefix removes a "Bearer " or "token " prefix users paste with
// their token.
func stripTokenPrefix(v string) string {
	v = strings.TrimSpace(v)
	for _, p := range []string{"bearer ", "token "} {
		if len(v) > len(p) && strings.EqualFold(v[:len(p)], p) {
			return strings.TrimSpace(v[len(p):])
		}
	}
	return v
}

// authFromEnv reads the auth settings; it may change c.Keys and c.Targets
// (BYOK routing) and appends problems to c.Warnings.
func authFromEnv(getenv func(string) string, c *Config) {
	a := AuthConfig{Headers: map[string]string{}, Dynamic: map[string]DynamicCredential{}, OIDCRequested: map[string]string{}, OIDCProblem: map[string]string{}}
	for _, p := range Providers {
		if p.AuthHeaderEnv == "" {
			continue
		}
		if v := strings.TrimSpace(getenv(p.AuthHeaderEnv)); v != "" {
			if !headerNameRe.MatchString(v) || protectedHeaders[strings.ToLower(v)] && !strings.EqualFold(v, "authorization") {
				c.Warnings = append(c.Warnings, fmt.Sprintf("Invalid %s value: expected a valid HTTP header name; using the default", p.AuthHeaderEnv))
				continue
			}
			if strings.EqualFold(v, "authorization") {
				continue // the default already (Bearer)
			}
			a.Headers[p.Name] = http1Canonical(v)
		}
	}

	// BYOK routing: COPILOT_PROVIDER_BASE_URL (the host's, real endpoint)
	// gives the Copilot target and base path unless set explicitly.
	ptype := strings.ToLower(strings.TrimSpace(getenv("COPILOT_PROVIDER_TYPE")))
	byokHost, byokPath := splitBaseURL(getenv("COPILOT_PROVIDER_BASE_URL"))
	if byokHost != "" && strings.TrimSpace(getenv("COPILOT_API_TARGET")) == "" {
		c.Targets["copilot"] = byokHost
		if strings.TrimSpace(getenv("COPILOT_API_BASE_PATH")) == "" {
			c.BasePaths["copilot"] = byokPath
		}
	}

	cp := CopilotAuth{IntegrationID: strings.TrimSpace(getenv("COPILOT_INTEGRATION_ID")), SessionID: strings.TrimSpace(getenv("AWF_PROVIDER_SESSION_ID"))}
	if cp.IntegrationID == "" {
		cp.IntegrationID = "agentic-workflows"
	}
	cp.InteractionID = requestID("") // a random UUID
	if run := strings.TrimSpace(getenv("GITHUB_RUN_ID")); run != "" {
		attempt := strings.TrimSpace(getenv("GITHUB_RUN_ATTEMPT"))
		if attempt == "" {
			attempt = "1"
		}
		if id := run + "-" + attempt; validRequestID.MatchString(id) {
			cp.InteractionID = id
		}
	}
	cp.GitHubToken = stripTokenPrefix(getenv("COPILOT_GITHUB_TOKEN"))
	for _, n := range []string{"COPILOT_PROVIDER_API_KEY", "COPILOT_API_KEY"} {
		if k := stripTokenPrefix(getenv(n)); k != "" && !copilotPlaceholders[k] {
			cp.BYOKKey = k
			break
		}
	}
	if cp.GitHubToken != "" {
		c.Keys["copilot"] = cp.GitHubToken
	} else if cp.BYOKKey != "" {
		c.Keys["copilot"] = cp.BYOKKey
	} else {
		delete(c.Keys, "copilot") // a placeholder is not a key
	}
	target := c.Targets["copilot"]
	cp.CatalogTarget = isCopilotCatalogTarget(target)
	cp.TokenPrefix = CopilotTokenPrefix(target, getenv("GITHUB_SERVER_URL"), getenv("AWF_PLATFORM_TYPE"))
	switch v := strings.TrimSpace(getenv("AWF_COPILOT_TOKEN_PREFIX")); strings.ToLower(v) {
	case "":
	case "token":
		cp.TokenPrefix = "token"
	case "bearer":
		cp.TokenPrefix = "Bearer"
	default:
		c.Warnings = append(c.Warnings, fmt.Sprintf("AWF_COPILOT_TOKEN_PREFIX=%q: expected token or Bearer; using %s", v, cp.TokenPrefix))
	}
	var w []string
	cp.ExtraHeaders, w = parseExtraHeaders(getenv("AWF_BYOK_EXTRA_HEADERS"))
	c.Warnings = append(c.Warnings, w...)
	cp.ExtraBody, w = parseExtraBody(getenv("AWF_BYOK_EXTRA_BODY_FIELDS"))
	c.Warnings = append(c.Warnings, w...)
	if cp.SessionID != "" {
		if _, ok := cp.ExtraBody["session_id"]; !ok {
			cp.ExtraBody["session_id"] = cp.SessionID
		}
		has := false
		for k := range cp.ExtraHeaders {
			has = has || strings.EqualFold(k, "x-session-id")
		}
		if !has {
			cp.ExtraHeaders["X-Session-Id"] = cp.SessionID
		}
	}
	if ptype == "azure" {
		a.AzureBYOK = !strings.EqualFold(strings.TrimSpace(getenv("AWF_AUTH_TYPE")), "github-oidc")
		cp.AzureBYOK = a.AzureBYOK
		// Port 10000 serves the Azure deployment with the BYOK key when there
		// is no OpenAI key and no explicit OpenAI target.
		if c.Keys["openai"] == "" && cp.BYOKKey != "" {
			c.Keys["openai"] = cp.BYOKKey
		}
		if byokHost != "" && strings.TrimSpace(getenv("OPENAI_API_TARGET")) == "" {
			c.Targets["openai"] = byokHost
			if c.BasePaths["openai"] == "" {
				c.BasePaths["openai"] = byokPath
			}
		}
	}
	a.Copilot = cp

	spec, err := cloudauth.FromEnv(getenv)
	if err != nil {
		c.Warnings = append(c.Warnings, err.Error())
	}
	if spec != nil {
		for _, name := range spec.Providers(c.Keys["copilot"] != "") {
			a.OIDCRequested[name] = spec.AuthType()
			if spec.Problem != "" {
				a.OIDCProblem[name] = spec.Problem
			}
		}
		if spec.Problem == "" {
			a.OIDC = spec
			// Bedrock: the OpenAI port goes to the region's runtime host
			// unless a target was given (the signer refuses any other host).
			if h := spec.DefaultTarget(); h != "" && strings.TrimSpace(getenv("OPENAI_API_TARGET")) == "" {
				c.Targets["openai"] = h
				c.BasePaths["openai"] = NormalizeBasePath(getenv("OPENAI_API_BASE_PATH"))
			}
		}
	}
	c.Auth = a
}

// http1Canonical keeps a header name as HTTP/1 canonical form.
func http1Canonical(n string) string {
	parts := strings.Split(strings.ToLower(n), "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}

// splitBaseURL reduces a BYOK base URL to host and path prefix.
func splitBaseURL(v string) (host, path string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", ""
	}
	if !strings.Contains(v, "://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil || u.Hostname() == "" || !hostRe.MatchString(strings.ToLower(u.Hostname())) {
		return "", ""
	}
	return strings.ToLower(u.Hostname()), NormalizeBasePath(u.Path)
}

// parseExtraHeaders reads AWF_BYOK_EXTRA_HEADERS: a JSON object of string
// values; credential headers and invalid names are skipped with a warning.
func parseExtraHeaders(raw string) (map[string]string, []string) {
	out := map[string]string{}
	if strings.TrimSpace(raw) == "" {
		return out, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil || m == nil {
		return out, []string{"AWF_BYOK_EXTRA_HEADERS: expected a JSON object; ignoring extra headers"}
	}
	var warns []string
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s, ok := m[k].(string)
		switch {
		case protectedHeaders[strings.ToLower(k)]:
			warns = append(warns, fmt.Sprintf("AWF_BYOK_EXTRA_HEADERS: %q is an auth-critical header and cannot be overridden; skipping", k))
		case !headerNameRe.MatchString(k):
			warns = append(warns, fmt.Sprintf("AWF_BYOK_EXTRA_HEADERS: %q is not a valid HTTP header name; skipping", k))
		case !ok:
			warns = append(warns, fmt.Sprintf("AWF_BYOK_EXTRA_HEADERS: value for %q must be a string; skipping", k))
		default:
			out[http1Canonical(k)] = s
		}
	}
	return out, warns
}

// parseExtraBody reads AWF_BYOK_EXTRA_BODY_FIELDS: a JSON object of
// string values.
func parseExtraBody(raw string) (map[string]string, []string) {
	out := map[string]string{}
	if strings.TrimSpace(raw) == "" {
		return out, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil || m == nil {
		return out, []string{"AWF_BYOK_EXTRA_BODY_FIELDS: expected a JSON object; ignoring extra body fields"}
	}
	var warns []string
	for k, v := range m {
		if s, ok := v.(string); ok && k != "__proto__" && k != "constructor" && k != "prototype" {
			out[k] = s
		} else {
			warns = append(warns, fmt.Sprintf("AWF_BYOK_EXTRA_BODY_FIELDS: value for %q must be a string; skipping", k))
		}
	}
	sort.Strings(warns)
	return out, warns
}

// isCopilotCatalogTarget: a GitHub Copilot endpoint (not a BYOK provider).
func isCopilotCatalogTarget(t string) bool {
	return t == "" || strings.HasSuffix(t, ".githubcopilot.com") || t == "githubcopilot.com" || strings.HasSuffix(t, ".ghe.com")
}

var ghecCopilotRe = regexp.MustCompile(`^copilot-api\.[^.]+\.ghe\.com$`)

// CopilotTokenPrefix is the Authorization scheme for a GitHub token at the
// Copilot target: the enterprise and business endpoints and GHE Cloud's
// copilot-api.<tenant>.ghe.com want "token"; so does any target when
// GITHUB_SERVER_URL is a GHES host (or AWF_PLATFORM_TYPE=ghes);
// api.githubcopilot.com and custom targets get "Bearer". An explicit
// non-GHES platform type keeps custom targets on Bearer but never changes
// the known endpoints. (BYOK keys are always Bearer.)
func CopilotTokenPrefix(target, serverURL, platformType string) string {
	target = strings.ToLower(strings.TrimSpace(target))
	switch {
	case target == "api.enterprise.githubcopilot.com", target == "api.business.githubcopilot.com", ghecCopilotRe.MatchString(target):
		return "token"
	}
	platformType = strings.ToLower(strings.TrimSpace(platformType))
	switch {
	case platformType == "ghes":
		return "token"
	case platformType != "":
		return "Bearer"
	}
	if serverKind(serverURL) == "ghes" {
		return "token"
	}
	return "Bearer"
}

// serverKind classifies GITHUB_SERVER_URL: github, ghec (*.ghe.com), ghes, or "".
func serverKind(serverURL string) string {
	serverURL = strings.TrimSpace(serverURL)
	if serverURL == "" {
		return ""
	}
	if !strings.Contains(serverURL, "://") {
		serverURL = "https://" + serverURL
	}
	u, err := url.Parse(serverURL)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	h := strings.ToLower(u.Hostname())
	switch {
	case h == "github.com" || h == "www.github.com":
		return "github"
	case strings.HasSuffix(h, ".ghe.com"):
		return "ghec"
	}
	return "ghes"
}
