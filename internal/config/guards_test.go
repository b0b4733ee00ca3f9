package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/guards"
	"github.com/spf13/pflag"
)

func TestGuardFlagsToSidecarEnv(t *testing.T) {
	c, _, err := build(t, []string{"--enable-api-proxy", "--agent-timeout", "30",
		"--max-model-multiplier", "claude-opus-4.7:27, gpt-4o:2", "--max-model-multiplier-cap", "5",
		"--max-permission-denied", "3", "--max-cache-misses", "5", "--enable-token-steering",
		"--max-ai-credits", "1000", "--max-runs", "8", "--max-effective-tokens", "500000",
		"--effective-token-model-multipliers", `{"gpt-4o":1,"o3":4}`, "--effective-token-default-model-multiplier", "1.5",
		"--default-ai-credits-pricing", `{"input":3,"output":15}`,
		"--model-aliases", `{"sonnet":["anthropic/*sonnet*"]}`,
		"--allowed-models", `["claude-*","gpt-*"]`, "--disallowed-models", "*opus*, *fable*",
		"--api-proxy-providers", `{"copilot":{"models":{"m":{"cost":{"input":"1e-06","output":"2e-06"}}}}}`,
		"--", "true"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		guards.EnvModelMultipliers:    `{"claude-opus-4.7":27,"gpt-4o":2,"o3":4}`, // the CLI list wins over the config object
		guards.EnvMaxModelMultiplier:  "5",
		guards.EnvMaxPermissionDenied: "3",
		guards.EnvMaxCacheMisses:      "5",
		guards.EnvSteering:            "true",
		guards.EnvAgentTimeoutMinutes: "30",
		guards.EnvMaxAICredits:        "1000",
		guards.EnvMaxRuns:             "8",
		guards.EnvMaxEffectiveTokens:  "500000",
		guards.EnvDefaultMultiplier:   "1.5",
		guards.EnvDefaultPricing:      `{"input":3,"output":15}`,
		guards.EnvModelAliases:        `{"models":{"sonnet":["anthropic/*sonnet*"]}}`,
		guards.EnvAllowedModels:       `["claude-*","gpt-*"]`,
		guards.EnvDisallowedModels:    `["*opus*","*fable*"]`,
		guards.EnvProviders:           `{"copilot":{"models":{"m":{"cost":{"input":"1e-06","output":"2e-06"}}}}}`,
	}
	if !reflect.DeepEqual(c.APIProxy.GuardEnv, want) {
		t.Fatalf("env\n got %v\nwant %v", c.APIProxy.GuardEnv, want)
	}
	// What the flags produce is what the api-proxy reads back.
	g, warns := guards.FromEnv(func(k string) string { return c.APIProxy.GuardEnv[k] })
	if len(warns) != 0 || g.MaxRuns != 8 || g.MaxAICredits != 1000 || g.ModelMultipliers["claude-opus-4.7"] != 27 || len(g.Aliases) != 1 || !g.Steering {
		t.Fatalf("read back %+v %v", g, warns)
	}
}

func TestGuardFlagsMaxTurnsWins(t *testing.T) {
	c, _, err := build(t, []string{"--enable-api-proxy", "--max-runs", "8", "--max-turns", "3", "--", "true"}, nil)
	if err != nil || c.APIProxy.GuardEnv[guards.EnvMaxRuns] != "3" {
		t.Fatalf("%v %v", c.APIProxy.GuardEnv, err)
	}
	c, _, err = build(t, []string{"--enable-api-proxy", "--model-fallback", `{"enabled":false}`, "--", "true"}, nil)
	if err != nil || c.APIProxy.GuardEnv[guards.EnvModelFallback] != `{"enabled":false}` {
		t.Fatalf("model fallback: %v %v", c.APIProxy.GuardEnv, err)
	}
	c, _, err = build(t, []string{"--enable-api-proxy", "--capture-blocked-requests", "redacted", "--max-captured-bytes", "1000", "--requested-model", "gpt-5", "--", "true"}, nil)
	if err != nil || c.APIProxy.GuardEnv[guards.EnvCaptureBlocked] != "redacted" || c.APIProxy.GuardEnv[guards.EnvMaxCaptureBytes] != "1000" || c.APIProxy.GuardEnv[guards.EnvRequestedModel] != "gpt-5" {
		t.Fatalf("diagnostics: %v %v", c.APIProxy.GuardEnv, err)
	}
	c, _, err = build(t, []string{"--enable-api-proxy", "--", "true"}, nil)
	if err != nil || len(c.APIProxy.GuardEnv) != 0 {
		t.Fatalf("no guard flags: %v %v", c.APIProxy.GuardEnv, err)
	}
}

func TestGuardFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		argv []string
		want string
	}{
		{[]string{"--enable-api-proxy", "--max-cache-misses", "0"}, "Error: Invalid maxCacheMisses value (must be a positive integer)"},
		{[]string{"--enable-api-proxy", "--max-permission-denied", "2.5"}, "Error: Invalid maxPermissionDenied value (must be a positive integer)"},
		{[]string{"--enable-api-proxy", "--max-runs", "x"}, "Error: Invalid maxRuns value (must be a positive integer)"},
		{[]string{"--enable-api-proxy", "--max-ai-credits", "-3"}, "Error: Invalid maxAiCredits value (must be > 0)"},
		{[]string{"--enable-api-proxy", "--max-model-multiplier-cap", "0"}, "Error: Invalid maxModelMultiplierCap value (must be > 0)"},
		{[]string{"--enable-api-proxy", "--max-model-multiplier", "gpt-4o"}, `Error: --max-model-multiplier: invalid entry "gpt-4o" (expected model:multiplier)`},
		{[]string{"--enable-api-proxy", "--max-model-multiplier", "gpt-4o:-1"}, `Error: --max-model-multiplier: multiplier for "gpt-4o" must be a positive number (got "-1")`},
		{[]string{"--enable-api-proxy", "--model-aliases", `{"a":5}`}, "Error: Invalid apiProxy.models value"},
		{[]string{"--enable-api-proxy", "--allowed-models", `[1`}, "Error: Invalid allowedModels value"},
		{[]string{"--enable-api-proxy", "--default-ai-credits-pricing", `{"input":1}`}, "Error: Invalid defaultAiCreditsPricing value"},
		{[]string{"--enable-api-proxy", "--capture-blocked-requests", "all"}, `Error: Invalid captureBlockedRequests value "all"`},
	} {
		_, _, err := build(t, append(tt.argv, "--", "true"), nil)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.argv, err, tt.want)
		}
	}
}

func TestGuardFlagNamesRegistered(t *testing.T) {
	fs := pflag.NewFlagSet("awf", pflag.ContinueOnError)
	Register(fs)
	for i, n := range GuardFlagNames {
		f := fs.Lookup(n)
		if f == nil {
			t.Fatalf("--%s not registered", n)
		}
		if public := i < 5; public == f.Hidden {
			t.Errorf("--%s hidden = %v", n, f.Hidden)
		}
	}
}
