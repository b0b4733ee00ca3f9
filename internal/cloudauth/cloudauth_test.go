package cloudauth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRefreshPoint(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, c := range []struct{ life, want time.Duration }{
		{time.Hour, 45 * time.Minute},         // 75%, as the original
		{10 * time.Minute, 5 * time.Minute},   // life-5min = 5 min = half
		{2 * time.Second, 1 * time.Second},    // short: half-life, not "now"
		{20 * time.Minute, 15 * time.Minute},  // min(15, 15)
		{100 * time.Minute, 75 * time.Minute}, // min(75, 95)
	} {
		if got := refreshPoint(t0, t0.Add(c.life)).Sub(t0); got != c.want {
			t.Errorf("life %v: refresh after %v, want %v", c.life, got, c.want)
		}
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestCacheLifecycle: cached until the refresh point, one background
// refresh between it and expiry (the old value still served), a blocking
// refresh after expiry, and a failure answered at once during the retry
// delay.
func TestCacheLifecycle(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	var mu sync.Mutex
	n, fail := 0, false
	c := newCache(func(context.Context) (int, time.Time, error) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return 0, time.Time{}, errors.New("endpoint down")
		}
		n++
		return n, clk.now().Add(100 * time.Second), nil
	}, clk.now)
	ctx := context.Background()
	get := func() (int, error) { return c.get(ctx) }
	if v, err := get(); v != 1 || err != nil {
		t.Fatalf("first: %v %v", v, err)
	}
	clk.add(40 * time.Second)
	if v, _ := get(); v != 1 || c.count() != 1 {
		t.Fatalf("before refresh point: %v, %d fetches", v, c.count())
	}
	clk.add(20 * time.Second) // 60 s: past the refresh point (50 s), before expiry
	if v, _ := get(); v != 1 {
		t.Fatalf("during background refresh got %v, want the cached 1", v)
	}
	for i := 0; i < 100 && c.count() < 2; i++ {
		time.Sleep(time.Millisecond)
	}
	deadline := time.Now().Add(2 * time.Second)
	for v, _ := get(); v != 2 && time.Now().Before(deadline); v, _ = get() {
		time.Sleep(time.Millisecond)
	}
	if v, _ := get(); v != 2 || c.count() != 2 {
		t.Fatalf("after background refresh: %v, %d fetches", v, c.count())
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	clk.add(200 * time.Second) // expired
	if _, err := get(); err == nil || !strings.Contains(err.Error(), "endpoint down") {
		t.Fatalf("expired with endpoint down: %v", err)
	}
	fetches := c.count()
	if _, err := get(); err == nil || c.count() != fetches {
		t.Fatalf("retry delay not honoured: %v, %d fetches", err, c.count())
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	clk.add(3 * time.Second)
	if v, err := get(); err != nil || v != 3 {
		t.Fatalf("recovery: %v %v", v, err)
	}
}

func TestFromEnvProblems(t *testing.T) {
	base := map[string]string{"AWF_AUTH_TYPE": "github-oidc", "ACTIONS_ID_TOKEN_REQUEST_URL": "https://x/y", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t"}
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, c := range []struct {
		env  func(string) string
		want string
	}{
		{env(), "is missing AWF_AUTH_AZURE_TENANT_ID, AWF_AUTH_AZURE_CLIENT_ID"},
		{env("AWF_AUTH_PROVIDER", "aws", "AWF_AUTH_AWS_ROLE_ARN", "arn", "AWF_AUTH_AWS_REGION", "mars"), "is not an AWS region name"},
		{env("AWF_AUTH_PROVIDER", "gcp"), "is missing AWF_AUTH_GCP_WORKLOAD_IDENTITY_PROVIDER"},
		{env("AWF_AUTH_PROVIDER", "anthropic", "AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID", "f"), "AWF_AUTH_ANTHROPIC_ORGANIZATION_ID, AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"},
		{env("AWF_AUTH_PROVIDER", "azure", "AWF_AUTH_AZURE_TENANT_ID", "t", "AWF_AUTH_AZURE_CLIENT_ID", "c", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", ""), "requires ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN"},
		{env("AWF_AUTH_PROVIDER", "azure", "AWF_AUTH_AZURE_TENANT_ID", "t", "AWF_AUTH_AZURE_CLIENT_ID", "c"), ""},
	} {
		s, err := FromEnv(c.env)
		if err != nil || s == nil || !strings.Contains(s.Problem, c.want) || (c.want == "" && s.Problem != "") {
			t.Errorf("want problem %q, got %+v %v", c.want, s, err)
		}
	}
	if _, err := FromEnv(env("AWF_AUTH_PROVIDER", "oracle")); err == nil {
		t.Error("unknown provider accepted")
	}
	if s, _ := FromEnv(func(string) string { return "" }); s != nil {
		t.Error("spec without AWF_AUTH_TYPE")
	}
	s, _ := FromEnv(env("AWF_AUTH_PROVIDER", "aws", "AWF_AUTH_AWS_ROLE_ARN", "arn", "AWF_AUTH_AWS_REGION", "cn-north-1"))
	if s.DefaultTarget() != "bedrock-runtime.cn-north-1.amazonaws.com.cn" || stsHost("cn-north-1") != "sts.cn-north-1.amazonaws.com.cn" {
		t.Errorf("china partition: %s", s.DefaultTarget())
	}
}

// TestErrorTextRedacts: the endpoint's documented error fields are kept,
// secrets an endpoint echoes are not.
func TestErrorTextRedacts(t *testing.T) {
	x := &exchanger{spec: &Spec{RequestToken: "REQ-TOKEN-123456"}}
	for body, want := range map[string]string{
		`{"error":"invalid_client","error_description":"AADSTS7000215"}`:             "invalid_client: AADSTS7000215",
		`{"Error":{"Code":"InvalidIdentityToken","Message":"expired"}}`:              "InvalidIdentityToken: expired",
		`{"error":{"code":401,"message":"denied","status":"UNAUTHENTICATED"}}`:       "UNAUTHENTICATED: denied",
		`{"type":"error","error":{"type":"invalid_request_error","message":"nope"}}`: "invalid_request_error: nope",
		"<html>bad gateway</html>": "<html>bad gateway</html>",
	} {
		if got := errorText([]byte(body)); got != want {
			t.Errorf("errorText(%s) = %q, want %q", body, got, want)
		}
	}
	if got := x.redact("echo REQ-TOKEN-123456 and eyJ.jwt-abcdefgh", "eyJ.jwt-abcdefgh"); strings.Contains(got, "REQ-TOKEN") || strings.Contains(got, "jwt-abcdefgh") {
		t.Errorf("not redacted: %s", got)
	}
}
