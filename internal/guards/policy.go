package guards

import (
	"strings"
)

// Glob matches s against pattern: '*' is the only wildcard, the match is
// anchored at both ends and case-insensitive (the original's model globs).
func Glob(pattern, s string) bool {
	p, s := strings.ToLower(pattern), strings.ToLower(s)
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

func anyGlob(patterns []string, s string) bool {
	for _, p := range patterns {
		if Glob(p, s) {
			return true
		}
	}
	return false
}

// Policy reasons, as the original's error bodies name them.
const (
	ReasonDisallowed  = "disallowed"
	ReasonNotAllowed  = "not_allowed"
	ReasonUnverifable = "dynamic_model_unverifiable"
)

// policyReason returns why model is refused by the allow/deny lists, or "".
// The denylist wins; "auto" (a selector whose concrete model is unknown)
// cannot be proven outside a denylist unless explicitly allowed.
func (c *Config) policyReason(model string) string {
	if model == "" || (c.AllowedModels == nil && c.DisallowedModels == nil) {
		return ""
	}
	if strings.EqualFold(model, "auto") && c.DisallowedModels != nil && !anyGlob(c.AllowedModels, model) {
		return ReasonUnverifable
	}
	if anyGlob(c.DisallowedModels, model) {
		return ReasonDisallowed
	}
	if c.AllowedModels != nil && !anyGlob(c.AllowedModels, model) {
		return ReasonNotAllowed
	}
	return ""
}

// Permitted reports whether model passes the allow/deny lists.
func (c *Config) Permitted(model string) bool { return c.policyReason(model) == "" }

// Multiplier resolves model's effective-token multiplier: an exact key, else
// the longest key that is a '-'-delimited prefix of the model (a family key
// such as claude-opus-4.7 covers claude-opus-4.7-20260501), else the
// configured default (1 when none). source is exact, prefix or default.
func (c *Config) Multiplier(model string) (m float64, source string) {
	if v, ok := c.ModelMultipliers[model]; ok {
		return v, "exact"
	}
	best := ""
	for k, v := range c.ModelMultipliers {
		if len(k) > len(best) && strings.HasPrefix(model, k+"-") {
			best, m = k, v
		}
	}
	if best != "" {
		return m, "prefix"
	}
	if c.DefaultMultiplier > 0 {
		return c.DefaultMultiplier, "default"
	}
	return 1, "default"
}
