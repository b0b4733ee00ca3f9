// Package cloudauth is keyless authentication for the api-proxy: it obtains
// the GitHub Actions OIDC ID token (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN, which
// only awf's own process holds), exchanges it at the cloud's documented
// token endpoint (Azure AD client assertion, AWS STS
// AssumeRoleWithWebIdentity, GCP STS and IAM Credentials, Anthropic OIDC
// federation), caches the result and refreshes it before it expires.
//
// Errors name the endpoint, the HTTP status and the endpoint's own error
// text, never a token: the GitHub request token, the ID token and the
// access tokens are removed from anything an error or log line carries.
package cloudauth

import (
	"fmt"
	"strings"
)

// Spec is what AWF_AUTH_* asks for (the original's variable names).
type Spec struct {
	Provider     string // azure (default), aws, gcp, anthropic
	RequestURL   string // ACTIONS_ID_TOKEN_REQUEST_URL
	RequestToken string // ACTIONS_ID_TOKEN_REQUEST_TOKEN
	Audience     string // AWF_AUTH_OIDC_AUDIENCE (default per provider)

	AzureTenantID, AzureClientID, AzureScope, AzureCloud string
	AWSRoleARN, AWSRegion, AWSSessionName                string
	GCPWorkloadIdentityProvider, GCPServiceAccount       string
	GCPScope                                             string

	AnthropicFederationRuleID, AnthropicOrganizationID string
	AnthropicServiceAccountID, AnthropicWorkspaceID    string
	AnthropicTokenURL                                  string

	// Problem is why the exchange cannot be set up (a missing variable);
	// the provider then answers every request with it.
	Problem string
}

// Default audiences and scopes, as the original.
const (
	DefaultAzureAudience     = "api://AzureADTokenExchange"
	DefaultAzureScope        = "https://cognitiveservices.azure.com/.default"
	DefaultAWSAudience       = "sts.amazonaws.com"
	DefaultAWSSessionName    = "awf-oidc-session"
	DefaultGCPScope          = "https://www.googleapis.com/auth/cloud-platform"
	DefaultAnthropicAudience = "https://api.anthropic.com"
	DefaultAnthropicTokenURL = "https://api.anthropic.com/v1/oauth/token"
)

// FromEnv reads the spec; nil when AWF_AUTH_TYPE is not github-oidc. An
// error is an unusable value (an unknown provider).
func FromEnv(getenv func(string) string) (*Spec, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	if !strings.EqualFold(get("AWF_AUTH_TYPE"), "github-oidc") {
		return nil, nil
	}
	s := &Spec{
		Provider:   strings.ToLower(get("AWF_AUTH_PROVIDER")),
		RequestURL: get("ACTIONS_ID_TOKEN_REQUEST_URL"), RequestToken: get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
		Audience:      get("AWF_AUTH_OIDC_AUDIENCE"),
		AzureTenantID: get("AWF_AUTH_AZURE_TENANT_ID"), AzureClientID: get("AWF_AUTH_AZURE_CLIENT_ID"),
		AzureScope: get("AWF_AUTH_AZURE_SCOPE"), AzureCloud: strings.ToLower(get("AWF_AUTH_AZURE_CLOUD")),
		AWSRoleARN: get("AWF_AUTH_AWS_ROLE_ARN"), AWSRegion: get("AWF_AUTH_AWS_REGION"), AWSSessionName: get("AWF_AUTH_AWS_ROLE_SESSION_NAME"),
		GCPWorkloadIdentityProvider: get("AWF_AUTH_GCP_WORKLOAD_IDENTITY_PROVIDER"), GCPServiceAccount: get("AWF_AUTH_GCP_SERVICE_ACCOUNT"),
		GCPScope:                  get("AWF_AUTH_GCP_SCOPE"),
		AnthropicFederationRuleID: get("AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID"), AnthropicOrganizationID: get("AWF_AUTH_ANTHROPIC_ORGANIZATION_ID"),
		AnthropicServiceAccountID: get("AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"), AnthropicWorkspaceID: get("AWF_AUTH_ANTHROPIC_WORKSPACE_ID"),
		AnthropicTokenURL: get("AWF_AUTH_ANTHROPIC_TOKEN_URL"),
	}
	if s.Provider == "" {
		s.Provider = "azure"
	}
	var need []string
	switch s.Provider {
	case "azure":
		need = []string{"AWF_AUTH_AZURE_TENANT_ID", s.AzureTenantID, "AWF_AUTH_AZURE_CLIENT_ID", s.AzureClientID}
	case "aws":
		need = []string{"AWF_AUTH_AWS_ROLE_ARN", s.AWSRoleARN, "AWF_AUTH_AWS_REGION", s.AWSRegion}
	case "gcp":
		need = []string{"AWF_AUTH_GCP_WORKLOAD_IDENTITY_PROVIDER", s.GCPWorkloadIdentityProvider}
	case "anthropic":
		need = []string{"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID", s.AnthropicFederationRuleID,
			"AWF_AUTH_ANTHROPIC_ORGANIZATION_ID", s.AnthropicOrganizationID,
			"AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID", s.AnthropicServiceAccountID}
	default:
		return nil, fmt.Errorf("AWF_AUTH_PROVIDER=%q: expected azure, aws, gcp or anthropic; OIDC auth is off", s.Provider)
	}
	var missing []string
	for i := 0; i < len(need); i += 2 {
		if need[i+1] == "" {
			missing = append(missing, need[i])
		}
	}
	switch {
	case s.RequestURL == "" || s.RequestToken == "":
		s.Problem = "GitHub OIDC auth (" + s.Provider + ") requires ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN (permissions: id-token: write)."
	case len(missing) > 0:
		s.Problem = "GitHub OIDC auth (" + s.Provider + ") is missing " + strings.Join(missing, ", ") + "."
	case s.Provider == "azure" && s.AzureCloud != "" && s.AzureCloud != "public" && s.AzureCloud != "usgovernment" && s.AzureCloud != "china":
		s.Problem = "AWF_AUTH_AZURE_CLOUD=" + s.AzureCloud + ": expected public, usgovernment or china."
	case s.Provider == "aws" && !regionRe(s.AWSRegion):
		s.Problem = "AWF_AUTH_AWS_REGION=" + s.AWSRegion + " is not an AWS region name."
	}
	return s, nil
}

func regionRe(r string) bool {
	if r == "" || len(r) > 32 {
		return false
	}
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return strings.Count(r, "-") >= 2
}

// AuthType is the scheme's name in /reflect and logs.
func (s *Spec) AuthType() string { return "github-oidc/" + s.Provider }

// Providers are the api-proxy providers the credential serves: Anthropic
// federation serves port 10001; the clouds serve port 10000 (Azure OpenAI,
// Bedrock, Vertex's OpenAI-compatible endpoint) and Copilot's BYOK path
// when Copilot has no static credential (as the original).
func (s *Spec) Providers(copilotStatic bool) []string {
	if s.Provider == "anthropic" {
		return []string{"anthropic"}
	}
	if copilotStatic {
		return []string{"openai"}
	}
	return []string{"openai", "copilot"}
}

// DefaultTarget is the upstream host the credential implies (Bedrock's
// runtime host for the region), or "".
func (s *Spec) DefaultTarget() string {
	if s.Provider == "aws" {
		return BedrockRuntimeHost(s.AWSRegion)
	}
	return ""
}

// BedrockRuntimeHost is the region's Bedrock runtime endpoint.
func BedrockRuntimeHost(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return "bedrock-runtime." + region + ".amazonaws.com.cn"
	}
	return "bedrock-runtime." + region + ".amazonaws.com"
}

func stsHost(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return "sts." + region + ".amazonaws.com.cn"
	}
	return "sts." + region + ".amazonaws.com"
}

func azureLoginHost(cloud string) string {
	switch cloud {
	case "usgovernment":
		return "login.microsoftonline.us"
	case "china":
		return "login.chinacloudapi.cn"
	}
	return "login.microsoftonline.com"
}

func (s *Spec) audience() string {
	if s.Audience != "" {
		return s.Audience
	}
	switch s.Provider {
	case "aws":
		return DefaultAWSAudience
	case "gcp":
		return s.GCPWorkloadIdentityProvider
	case "anthropic":
		return DefaultAnthropicAudience
	}
	return DefaultAzureAudience
}
