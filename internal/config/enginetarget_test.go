package config

import (
	"strings"
	"testing"
)

// ENGINE_API_TARGET opens the GHES host and the enterprise Copilot
// endpoints only when it is an absolute URL, as the original (its
// tests/integration/ghes-auto-populate.test.ts, "should ignore invalid
// ENGINE_API_TARGET gracefully").
func TestAutoAllowedEngineAPITarget(t *testing.T) {
	copilot := " api.githubcopilot.com api.enterprise.githubcopilot.com telemetry.enterprise.githubcopilot.com"
	for _, tc := range []struct{ target, want string }{
		{"https://api.github.mycompany.com", "github.mycompany.com api.github.mycompany.com" + copilot},
		{"https://github.mycompany.com/", "github.mycompany.com" + copilot},
		{" https://API.ghes.corp:8443/api/v3 ", "ghes.corp api.ghes.corp" + copilot},
		{"not-a-valid-url", ""},
		{"api.github.mycompany.com", ""}, // no scheme: not a URL
		{"https://", ""},
		{"", ""},
	} {
		got := strings.Join(AutoAllowed(Targets{}, map[string]string{"ENGINE_API_TARGET": tc.target}), " ")
		if got != tc.want {
			t.Errorf("ENGINE_API_TARGET=%q: AutoAllowed = %q, want %q", tc.target, got, tc.want)
		}
	}
}
