package cloudauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/awf-dev/awf/internal/sigv4"
)

// Options are the run-time dependencies of a credential.
type Options struct {
	Client *http.Client     // reaches the endpoints (through the egress proxy)
	Now    func() time.Time // nil: time.Now
}

// Credential is a run-time credential (the api-proxy's DynamicCredential).
type Credential interface {
	// Bearer returns a valid access token; for AWS it makes sure valid
	// temporary credentials exist and returns "".
	Bearer(ctx context.Context) (string, error)
	AuthType() string
	Hosts() []string
	// Prime starts the first exchange in the background.
	Prime()
}

// Build makes the credential the spec describes (Problem must be "").
func (s *Spec) Build(o Options) (Credential, error) {
	if s.Problem != "" {
		return nil, errors.New(s.Problem)
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	x := &exchanger{spec: s, client: o.Client}
	switch s.Provider {
	case "aws":
		a := &AWS{x: x, region: s.AWSRegion, host: BedrockRuntimeHost(s.AWSRegion), now: o.Now}
		a.c = newCache(x.aws, o.Now)
		return a, nil
	case "azure":
		t := &Token{x: x, hosts: []string{azureLoginHost(s.AzureCloud)}}
		t.c = newCache(x.azure, o.Now)
		return t, nil
	case "gcp":
		t := &Token{x: x, hosts: []string{"sts.googleapis.com"}}
		if s.GCPServiceAccount != "" {
			t.hosts = append(t.hosts, "iamcredentials.googleapis.com")
		}
		t.c = newCache(x.gcp, o.Now)
		return t, nil
	case "anthropic":
		u, err := url.Parse(x.anthropicURL())
		if err != nil || u.Scheme != "https" || u.Hostname() == "" {
			return nil, errors.New("AWF_AUTH_ANTHROPIC_TOKEN_URL must be an https:// URL")
		}
		t := &Token{x: x, hosts: []string{u.Hostname()}}
		t.c = newCache(x.anthropic, o.Now)
		return t, nil
	}
	return nil, fmt.Errorf("unknown OIDC provider %q", s.Provider)
}

// Token is an OAuth access token from an exchange (Azure, GCP, Anthropic).
type Token struct {
	x     *exchanger
	c     *cache[string]
	hosts []string
}

func (t *Token) Bearer(ctx context.Context) (string, error) { return t.c.get(ctx) }
func (t *Token) AuthType() string                           { return t.x.spec.AuthType() }
func (t *Token) Hosts() []string                            { return append([]string{t.x.requestHost()}, t.hosts...) }
func (t *Token) Prime()                                     { t.c.prime() }

// Fetches is how many exchanges ran (tests of refresh).
func (t *Token) Fetches() int { return t.c.count() }

// AWS holds temporary credentials from STS and signs Bedrock requests.
type AWS struct {
	x      *exchanger
	c      *cache[sigv4.Credentials]
	region string
	host   string
	now    func() time.Time
}

func (a *AWS) Bearer(ctx context.Context) (string, error) {
	_, err := a.c.get(ctx)
	return "", err
}
func (a *AWS) AuthType() string { return a.x.spec.AuthType() }
func (a *AWS) Hosts() []string  { return []string{a.x.requestHost(), stsHost(a.region)} }
func (a *AWS) Prime()           { a.c.prime() }
func (a *AWS) Fetches() int     { return a.c.count() }

// Sign signs r (whose body is body) for bedrock-runtime, only for the
// region's Bedrock runtime host: the temporary credentials must not sign
// requests to anything else.
func (a *AWS) Sign(ctx context.Context, r *http.Request, body []byte) error {
	host := strings.ToLower(r.URL.Hostname())
	if host != a.host {
		return fmt.Errorf("AWS SigV4 signing is restricted to %s (the target is %s)", a.host, host)
	}
	cr, err := a.c.get(ctx)
	if err != nil {
		return err
	}
	now := time.Now
	if a.now != nil {
		now = a.now
	}
	t := now()
	ph := sigv4.HashHex(body)
	r.Header.Set("X-Amz-Date", sigv4.AmzDate(t))
	r.Header.Set("X-Amz-Content-Sha256", ph)
	r.Header.Set("X-Amz-Security-Token", cr.SessionToken)
	hdr := map[string][]string{
		"host": {host}, "x-amz-date": {sigv4.AmzDate(t)}, "x-amz-content-sha256": {ph}, "x-amz-security-token": {cr.SessionToken},
	}
	path := r.URL.EscapedPath()
	sig, err := sigv4.Sign(sigv4.Request{Method: r.Method, Path: path, RawQuery: r.URL.RawQuery, Headers: hdr, PayloadHash: ph}, cr, a.region, "bedrock", t)
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", sig.Authorization)
	return nil
}

// exchanger performs the HTTP calls.
type exchanger struct {
	spec   *Spec
	client *http.Client
}

func (x *exchanger) requestHost() string {
	u, err := url.Parse(x.spec.RequestURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func (x *exchanger) anthropicURL() string {
	if x.spec.AnthropicTokenURL != "" {
		return x.spec.AnthropicTokenURL
	}
	return DefaultAnthropicTokenURL
}

// secrets are the values no error may carry.
func (x *exchanger) redact(s string, more ...string) string {
	for _, v := range append([]string{x.spec.RequestToken}, more...) {
		if len(v) >= 8 {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return s
}

// githubIDToken asks the Actions runtime for an ID token with the audience.
func (x *exchanger) githubIDToken(ctx context.Context) (string, error) {
	u, err := url.Parse(x.spec.RequestURL)
	if err != nil || u.Host == "" {
		return "", errors.New("GitHub OIDC token request failed: ACTIONS_ID_TOKEN_REQUEST_URL is not a URL")
	}
	q := u.Query()
	q.Set("audience", x.spec.audience())
	u.RawQuery = q.Encode()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	req.Header.Set("Authorization", "Bearer "+x.spec.RequestToken)
	req.Header.Set("Accept", "application/json")
	var out struct {
		Value string `json:"value"`
	}
	if err := x.do(req, "GitHub OIDC token request", &out); err != nil {
		return "", err
	}
	if out.Value == "" {
		return "", errors.New(`GitHub OIDC token request failed: response has no "value"`)
	}
	return out.Value, nil
}

// do sends req and decodes a 200 JSON answer into out; any other answer
// becomes an error with the status and the endpoint's error text, minus
// secrets.
func (x *exchanger) do(req *http.Request, what string, out any, secrets ...string) error {
	resp, err := x.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s failed: %s", what, x.redact(err.Error(), secrets...))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s failed: HTTP %d from %s: %s", what, resp.StatusCode, req.URL.Host, x.redact(errorText(body), secrets...))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s failed: response from %s is not the expected JSON", what, req.URL.Host)
	}
	return nil
}

// errorText extracts the error fields the endpoints document (OAuth's
// error/error_description, Google's and Anthropic's error objects, AWS's
// Error.Code/Message), else a short prefix of the body.
func errorText(body []byte) string {
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		var parts []string
		add := func(v any) {
			if s, ok := v.(string); ok && s != "" {
				parts = append(parts, s)
			}
		}
		add(m["error"])
		add(m["error_description"])
		for _, k := range []string{"error", "Error"} {
			if o, ok := m[k].(map[string]any); ok {
				add(o["type"])
				add(o["Code"])
				add(o["status"])
				add(o["message"])
				add(o["Message"])
			}
		}
		if eo, ok := m["ErrorResponse"].(map[string]any); ok {
			if o, ok := eo["Error"].(map[string]any); ok {
				add(o["Code"])
				add(o["Message"])
			}
		}
		if len(parts) > 0 {
			return truncate(strings.Join(parts, ": "))
		}
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	if s == "" {
		return "(empty body)"
	}
	return truncate(s)
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

type oauthToken struct {
	AccessToken string          `json:"access_token"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
}

func (o oauthToken) expiry(now time.Time) time.Time {
	s := strings.Trim(string(o.ExpiresIn), `"`)
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		n = 3600
	}
	return now.Add(time.Duration(n * float64(time.Second)))
}

// azure: the ID token as a client assertion at the tenant's v2.0 token
// endpoint (client credentials grant with a federated credential).
func (x *exchanger) azure(ctx context.Context) (string, time.Time, error) {
	jwt, err := x.githubIDToken(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	s := x.spec
	scope := s.AzureScope
	if scope == "" {
		scope = DefaultAzureScope
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {s.AzureClientID},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {jwt},
		"scope":                 {scope},
	}
	u := "https://" + azureLoginHost(s.AzureCloud) + "/" + url.PathEscape(s.AzureTenantID) + "/oauth2/v2.0/token"
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	var out oauthToken
	if err := x.do(req, "Azure token exchange", &out, jwt); err != nil {
		return "", time.Time{}, err
	}
	if out.AccessToken == "" {
		return "", time.Time{}, errors.New(`Azure token exchange failed: response has no "access_token"`)
	}
	return out.AccessToken, out.expiry(start), nil
}

// gcp: STS token exchange against the workload identity provider, then,
// with a service account, IAM Credentials generateAccessToken.
func (x *exchanger) gcp(ctx context.Context) (string, time.Time, error) {
	jwt, err := x.githubIDToken(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	s := x.spec
	scope := s.GCPScope
	if scope == "" {
		scope = DefaultGCPScope
	}
	body, _ := json.Marshal(map[string]string{
		"grant_type":           "urn:ietf:params:oauth:grant-type:token-exchange",
		"audience":             "//iam.googleapis.com/" + s.GCPWorkloadIdentityProvider,
		"scope":                DefaultGCPScope,
		"requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
		"subject_token_type":   "urn:ietf:params:oauth:token-type:jwt",
		"subject_token":        jwt,
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://sts.googleapis.com/v1/token", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	var fed oauthToken
	if err := x.do(req, "GCP STS token exchange", &fed, jwt); err != nil {
		return "", time.Time{}, err
	}
	if fed.AccessToken == "" {
		return "", time.Time{}, errors.New(`GCP STS token exchange failed: response has no "access_token"`)
	}
	if s.GCPServiceAccount == "" {
		return fed.AccessToken, fed.expiry(start), nil
	}
	body, _ = json.Marshal(map[string]any{"scope": []string{scope}, "lifetime": "3600s"})
	u := "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/" + url.PathEscape(s.GCPServiceAccount) + ":generateAccessToken"
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+fed.AccessToken)
	var sa struct {
		AccessToken string `json:"accessToken"`
		ExpireTime  string `json:"expireTime"`
	}
	if err := x.do(req, "GCP service account impersonation", &sa, jwt, fed.AccessToken); err != nil {
		return "", time.Time{}, err
	}
	if sa.AccessToken == "" {
		return "", time.Time{}, errors.New(`GCP service account impersonation failed: response has no "accessToken"`)
	}
	exp, err := time.Parse(time.RFC3339Nano, sa.ExpireTime)
	if err != nil {
		exp = start.Add(time.Hour)
	}
	return sa.AccessToken, exp, nil
}

// anthropic: the ID token as a jwt-bearer assertion at Anthropic's OAuth
// token endpoint with the federation rule, organization and service
// account.
func (x *exchanger) anthropic(ctx context.Context) (string, time.Time, error) {
	jwt, err := x.githubIDToken(ctx)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("Anthropic upstream OIDC JWT mint failed: %w", err)
	}
	s := x.spec
	m := map[string]string{
		"grant_type":         "urn:ietf:params:oauth:grant-type:jwt-bearer",
		"assertion":          jwt,
		"federation_rule_id": s.AnthropicFederationRuleID,
		"organization_id":    s.AnthropicOrganizationID,
		"service_account_id": s.AnthropicServiceAccountID,
	}
	if s.AnthropicWorkspaceID != "" {
		m["workspace_id"] = s.AnthropicWorkspaceID
	}
	body, _ := json.Marshal(m)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, x.anthropicURL(), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Anthropic-Beta", "oauth-2025-04-20,oidc-federation-2026-04-01")
	start := time.Now()
	var out oauthToken
	if err := x.do(req, "Anthropic OAuth token exchange", &out, jwt); err != nil {
		return "", time.Time{}, err
	}
	if out.AccessToken == "" {
		return "", time.Time{}, errors.New(`Anthropic OAuth token exchange failed: response has no "access_token"`)
	}
	return out.AccessToken, out.expiry(start), nil
}

// aws: STS AssumeRoleWithWebIdentity (a form POST, so the ID token is in
// the body rather than a URL), JSON answer.
func (x *exchanger) aws(ctx context.Context) (sigv4.Credentials, time.Time, error) {
	jwt, err := x.githubIDToken(ctx)
	if err != nil {
		return sigv4.Credentials{}, time.Time{}, err
	}
	s := x.spec
	name := s.AWSSessionName
	if name == "" {
		name = DefaultAWSSessionName
	}
	form := url.Values{
		"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"},
		"RoleArn": {s.AWSRoleARN}, "RoleSessionName": {name}, "WebIdentityToken": {jwt},
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+stsHost(s.AWSRegion)+"/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	var out struct {
		R struct {
			Result struct {
				Credentials struct {
					AccessKeyID     string          `json:"AccessKeyId"`
					SecretAccessKey string          `json:"SecretAccessKey"`
					SessionToken    string          `json:"SessionToken"`
					Expiration      json.RawMessage `json:"Expiration"`
				} `json:"Credentials"`
			} `json:"AssumeRoleWithWebIdentityResult"`
		} `json:"AssumeRoleWithWebIdentityResponse"`
	}
	if err := x.do(req, "AWS STS AssumeRoleWithWebIdentity", &out, jwt); err != nil {
		return sigv4.Credentials{}, time.Time{}, err
	}
	c := out.R.Result.Credentials
	if c.AccessKeyID == "" || c.SecretAccessKey == "" || c.SessionToken == "" {
		return sigv4.Credentials{}, time.Time{}, errors.New("AWS STS AssumeRoleWithWebIdentity failed: response has no Credentials")
	}
	return sigv4.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}, awsExpiry(c.Expiration), nil
}

// awsExpiry reads STS's Expiration: epoch seconds in the JSON protocol,
// an ISO 8601 time in the XML one; unknown means one hour.
func awsExpiry(raw json.RawMessage) time.Time {
	s := strings.Trim(string(raw), `"`)
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 {
		return time.Unix(int64(f), 0)
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	return time.Now().Add(time.Hour)
}
