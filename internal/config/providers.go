package config

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"regexp"
	"strings"

	"github.com/spf13/pflag"

	"github.com/awf-dev/awf/internal/apiproxy"
)

// providerFlags are the api-proxy's provider and auth settings beyond the
// four static keys: Vertex (port 10004), custom auth headers, a
// secret-backed OpenAI base URL, GitHub Actions OIDC (apiProxy.auth.*),
// Copilot BYOK routing and the GHES/GHEC prefix rule. Names are the
// original's CLI flags, or the kebab-case of its option names for the
// config-only keys (hidden; set through --config). build turns them into
// the sidecar variables the api-proxy reads (apiproxy.FromEnv), with the
// host's variables of the same names as the fallback, as the original.
type providerFlags struct {
	fs  *pflag.FlagSet
	str map[string]*string
}

// providerFlag is one row: flag name, the sidecar variable it sets, the
// host variable used when the flag is not given ("" = none), help, hidden.
type providerFlag struct {
	name, envVar, hostVar, help string
	hidden                      bool
}

// providerTable is the one table of these flags.
var providerTable = []providerFlag{
	{"vertex-api-target", "VERTEX_API_TARGET", "VERTEX_API_TARGET", "Target `host` for Vertex API requests (default: aiplatform.googleapis.com)", false},
	{"vertex-api-base-path", "VERTEX_API_BASE_PATH", "VERTEX_API_BASE_PATH", "Base `path` prefix for Vertex API requests", false},
	{"openai-api-auth-header", "AWF_OPENAI_AUTH_HEADER", "AWF_OPENAI_AUTH_HEADER", "Custom auth header `name` for OpenAI requests (default: Authorization with Bearer prefix)", false},
	{"anthropic-api-auth-header", "AWF_ANTHROPIC_AUTH_HEADER", "AWF_ANTHROPIC_AUTH_HEADER", "Custom auth header `name` for Anthropic requests (default: x-api-key)", false},
	{"openai-base-url-env", "", "OPENAI_BASE_URL_ENV", "`Name` of a runner environment variable holding a secret OpenAI-compatible base URL", false},
	{"copilot-token-prefix", "AWF_COPILOT_TOKEN_PREFIX", "AWF_COPILOT_TOKEN_PREFIX", "Authorization `scheme` for COPILOT_GITHUB_TOKEN: token or Bearer (default: token for GHES, api.enterprise/business.githubcopilot.com and copilot-api.<tenant>.ghe.com; Bearer otherwise)", false},
	{"platform-type", "AWF_PLATFORM_TYPE", "AWF_PLATFORM_TYPE", "platform.type: ghes, ghec or github (decides the Copilot token prefix for custom targets)", true},
	{"auth-type", "AWF_AUTH_TYPE", "AWF_AUTH_TYPE", "apiProxy.auth.type: github-oidc for keyless auth", true},
	{"auth-provider", "AWF_AUTH_PROVIDER", "AWF_AUTH_PROVIDER", "apiProxy.auth.provider: azure, aws, gcp or anthropic", true},
	{"auth-oidc-audience", "AWF_AUTH_OIDC_AUDIENCE", "AWF_AUTH_OIDC_AUDIENCE", "apiProxy.auth.oidcAudience", true},
	{"auth-azure-tenant-id", "AWF_AUTH_AZURE_TENANT_ID", "AWF_AUTH_AZURE_TENANT_ID", "apiProxy.auth.azureTenantId", true},
	{"auth-azure-client-id", "AWF_AUTH_AZURE_CLIENT_ID", "AWF_AUTH_AZURE_CLIENT_ID", "apiProxy.auth.azureClientId", true},
	{"auth-azure-scope", "AWF_AUTH_AZURE_SCOPE", "AWF_AUTH_AZURE_SCOPE", "apiProxy.auth.azureScope", true},
	{"auth-azure-cloud", "AWF_AUTH_AZURE_CLOUD", "AWF_AUTH_AZURE_CLOUD", "apiProxy.auth.azureCloud: public, usgovernment or china", true},
	{"auth-aws-role-arn", "AWF_AUTH_AWS_ROLE_ARN", "AWF_AUTH_AWS_ROLE_ARN", "apiProxy.auth.awsRoleArn", true},
	{"auth-aws-region", "AWF_AUTH_AWS_REGION", "AWF_AUTH_AWS_REGION", "apiProxy.auth.awsRegion", true},
	{"auth-aws-role-session-name", "AWF_AUTH_AWS_ROLE_SESSION_NAME", "AWF_AUTH_AWS_ROLE_SESSION_NAME", "apiProxy.auth.awsRoleSessionName", true},
	{"auth-gcp-workload-identity-provider", "AWF_AUTH_GCP_WORKLOAD_IDENTITY_PROVIDER", "AWF_AUTH_GCP_WORKLOAD_IDENTITY_PROVIDER", "apiProxy.auth.gcpWorkloadIdentityProvider", true},
	{"auth-gcp-service-account", "AWF_AUTH_GCP_SERVICE_ACCOUNT", "AWF_AUTH_GCP_SERVICE_ACCOUNT", "apiProxy.auth.gcpServiceAccount", true},
	{"auth-gcp-scope", "AWF_AUTH_GCP_SCOPE", "AWF_AUTH_GCP_SCOPE", "apiProxy.auth.gcpScope", true},
	{"auth-anthropic-federation-rule-id", "AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID", "AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID", "apiProxy.auth.anthropicFederationRuleId", true},
	{"auth-anthropic-organization-id", "AWF_AUTH_ANTHROPIC_ORGANIZATION_ID", "AWF_AUTH_ANTHROPIC_ORGANIZATION_ID", "apiProxy.auth.anthropicOrganizationId", true},
	{"auth-anthropic-service-account-id", "AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID", "AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID", "apiProxy.auth.anthropicServiceAccountId", true},
	{"auth-anthropic-workspace-id", "AWF_AUTH_ANTHROPIC_WORKSPACE_ID", "AWF_AUTH_ANTHROPIC_WORKSPACE_ID", "apiProxy.auth.anthropicWorkspaceId", true},
	{"anthropic-token-url", "AWF_AUTH_ANTHROPIC_TOKEN_URL", "AWF_AUTH_ANTHROPIC_TOKEN_URL", "apiProxy.auth.anthropicTokenUrl", true},
	{"copilot-provider-type", "COPILOT_PROVIDER_TYPE", "COPILOT_PROVIDER_TYPE", "apiProxy.modelRouter.providerType: BYOK provider type (openai, azure, anthropic)", true},
	{"copilot-provider-base-url", "COPILOT_PROVIDER_BASE_URL", "COPILOT_PROVIDER_BASE_URL", "apiProxy.modelRouter.baseUrl: BYOK endpoint (its host and path become the Copilot target)", true},
	{"copilot-byok-extra-headers", "AWF_BYOK_EXTRA_HEADERS", "AWF_BYOK_EXTRA_HEADERS", "apiProxy.targets.copilot.extraHeaders: JSON object of headers for BYOK requests", true},
	{"copilot-byok-extra-body-fields", "AWF_BYOK_EXTRA_BODY_FIELDS", "AWF_BYOK_EXTRA_BODY_FIELDS", "apiProxy.targets.copilot.extraBodyFields: JSON object of string fields added to BYOK request bodies", true},
	{"copilot-byok-session-id", "AWF_PROVIDER_SESSION_ID", "AWF_PROVIDER_SESSION_ID", "apiProxy.targets.copilot.sessionId: x-session-id for BYOK requests", true},
}

// Host variables passed to the api-proxy as they are (never to the agent).
var providerPassthrough = []string{"GOOGLE_API_KEY", "GITHUB_API_URL", "COPILOT_INTEGRATION_ID", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT"}

func registerProviders(fs *pflag.FlagSet) *providerFlags {
	p := &providerFlags{fs: fs, str: map[string]*string{}}
	for _, r := range providerTable {
		v := new(string)
		fs.StringVar(v, r.name, "", r.help)
		if r.hidden {
			fs.MarkHidden(r.name)
		}
		p.str[r.name] = v
	}
	return p
}

var (
	envNameRe    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	headerNameRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// build returns the sidecar variables and the host variables that must not
// reach the agent (the secret base URL's variable).
func (p *providerFlags) build(env map[string]string) (side map[string]string, exclude []string, warns []Warning, err error) {
	side = map[string]string{}
	val := func(r providerFlag) string {
		if f := p.fs.Lookup(r.name); f != nil && f.Changed {
			return strings.TrimSpace(*p.str[r.name])
		}
		if r.hostVar != "" {
			return strings.TrimSpace(env[r.hostVar])
		}
		return ""
	}
	for _, r := range providerTable {
		v := val(r)
		if v == "" || r.envVar == "" {
			continue
		}
		switch r.name {
		case "vertex-api-target":
			host, warning, err := apiproxy.NormalizeTarget(v)
			if err != nil {
				return nil, nil, nil, errorf("Invalid --vertex-api-target (or VERTEX_API_TARGET): %v", err)
			}
			if warning != "" {
				warns = append(warns, Warning{Level: slog.LevelWarn, Msg: warning})
			}
			v = host
		case "vertex-api-base-path":
			v = apiproxy.NormalizeBasePath(v)
		case "openai-api-auth-header", "anthropic-api-auth-header":
			if !headerNameRe.MatchString(v) {
				return nil, nil, nil, errorf("Invalid --%s value: expected a valid HTTP header name", r.name)
			}
		case "copilot-token-prefix":
			if !strings.EqualFold(v, "token") && !strings.EqualFold(v, "bearer") {
				return nil, nil, nil, errorf("Invalid --copilot-token-prefix %q: expected token or Bearer", v)
			}
		case "copilot-byok-extra-headers":
			var m map[string]any
			if json.Unmarshal([]byte(v), &m) != nil || m == nil {
				return nil, nil, nil, errorf("apiProxy.targets.copilot.extraHeaders must be a JSON object of strings")
			}
		}
		side[r.envVar] = v
	}
	for _, n := range providerPassthrough {
		if v := strings.TrimSpace(env[n]); v != "" {
			side[n] = v
		}
	}
	// The GitHub Actions OIDC request credentials go to the api-proxy only
	// when keyless auth is asked for (the agent never gets them: they are
	// isolated variables).
	if strings.EqualFold(side["AWF_AUTH_TYPE"], "github-oidc") {
		for _, n := range []string{"ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"} {
			if v := strings.TrimSpace(env[n]); v != "" {
				side[n] = v
			}
		}
	}
	// A secret-backed base URL: read here, on the host, validated with
	// messages that never show the value; its host and path become the
	// OpenAI target and base path, and its variable never reaches the agent.
	if name := val(providerTable[4]); name != "" {
		host, path, err := secretBaseURL(name, env)
		if err != nil {
			return nil, nil, nil, err
		}
		side["OPENAI_API_TARGET"] = host
		side["OPENAI_API_BASE_PATH"] = path
		side["AWF_SENSITIVE_OPENAI_TARGET"] = host // never logged (the original's name)
		exclude = append(exclude, name)
	}
	return side, exclude, warns, nil
}

// secretBaseURL validates the variable named by --openai-base-url-env, as
// the original (https only, no credentials, query, fragment or non-default
// port). No message contains the value.
func secretBaseURL(name string, env map[string]string) (host, path string, err error) {
	if !envNameRe.MatchString(name) {
		return "", "", errorf("apiProxy.targets.openai.baseUrlEnv %q is not a valid environment variable name (expected letters, digits and underscores, not starting with a digit).", name)
	}
	v := strings.TrimSpace(env[name])
	if v == "" {
		return "", "", errorf("Environment variable %q (apiProxy.targets.openai.baseUrlEnv) is not set. Bind it to the secret holding the OpenAI-compatible base URL before starting awf.", name)
	}
	u, perr := url.Parse(v)
	switch {
	case perr != nil || !u.IsAbs():
		return "", "", errorf("Environment variable %q does not contain a valid absolute URL (expected e.g. https://host.example.com/v1). The value is not shown to avoid leaking it.", name)
	case u.Scheme != "https":
		return "", "", errorf("Environment variable %q uses an unsupported URL scheme. Only https:// endpoints are supported.", name)
	case u.User != nil:
		return "", "", errorf("Environment variable %q contains embedded credentials (user:pass@), which are not supported. Provide the API key separately via OPENAI_API_KEY.", name)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", "", errorf("Environment variable %q must not contain a query string or fragment.", name)
	case u.Port() != "" && u.Port() != "443":
		return "", "", errorf("Environment variable %q specifies a non-default port, which the OpenAI API proxy target does not support. Expose the endpoint on the default port for its scheme.", name)
	}
	h, _, herr := apiproxy.NormalizeTarget(u.Hostname())
	if herr != nil {
		return "", "", errorf("Environment variable %q has a missing or malformed hostname.", name)
	}
	return h, apiproxy.NormalizeBasePath(u.EscapedPath()), nil
}

// buildProviders sets c.APIProxy.ProviderEnv.
func (f *Flags) buildProviders(env map[string]string, c *Config) ([]Warning, []string, error) {
	side, exclude, warns, err := f.providers.build(env)
	if err != nil {
		return nil, nil, err
	}
	c.APIProxy.ProviderEnv = side
	if strings.EqualFold(side["AWF_AUTH_TYPE"], "github-oidc") {
		c.APIProxy.Keys.Keyless = strings.ToLower(side["AWF_AUTH_PROVIDER"])
		if c.APIProxy.Keys.Keyless == "" {
			c.APIProxy.Keys.Keyless = "azure"
		}
		k := &c.APIProxy.Keys
		k.KeylessCopilot = k.Keyless != "anthropic" && side["COPILOT_PROVIDER_BASE_URL"] != "" && k.CopilotGitHubToken == "" && k.CopilotAPIKey == ""
	}
	return warns, exclude, nil
}
