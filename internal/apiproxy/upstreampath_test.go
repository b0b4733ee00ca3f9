package apiproxy

import "testing"

func TestUpstreamPath(t *testing.T) {
	for _, c := range []struct{ base, path, want string }{
		{"", "/v1/chat/completions", "/v1/chat/completions"},
		{"/v1", "/v1/chat/completions", "/v1/chat/completions"},  // the original's rule
		{"/v1", "/chat/completions", "/v1/chat/completions"},     // the original's rule
		{"/anthropic", "/v1/messages", "/anthropic/v1/messages"}, // the original's rule
		{"/tenant/v1", "/v1/chat/completions", "/tenant/v1/chat/completions"},
		{"/tenant/v1", "/chat/completions", "/tenant/v1/chat/completions"},
		{"/tenant/v1", "/v10/x", "/tenant/v1/v10/x"},
		{"/openai/deployments/d", "/v1/chat", "/openai/deployments/d/v1/chat"},
	} {
		if got := upstreamPath(c.base, c.path); got != c.want {
			t.Errorf("upstreamPath(%q, %q) = %q, want %q", c.base, c.path, got, c.want)
		}
	}
}
