package logs

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestManifestInspection(t *testing.T) {
	m := NewManifest(nil, ManifestOptions{SSLBump: true, Inspection: &InspectionInfo{
		CACertSHA256: strings.Repeat("ab", 32), Hooks: []string{"allow-urls"},
		URLRules:       []URLRule{{Pattern: "https://github.com/org/*", Regex: `^https://github\.com/org/[^\s]*`}},
		InspectedHosts: []string{"github.com"}}})
	b, _ := json.Marshal(m)
	for _, w := range []string{`"sslBumpEnabled":true`, `"inspection":{"caCertSha256":"abab`, `"hooks":["allow-urls"]`,
		`"urlRules":[{"pattern":"https://github.com/org/*"`, `"inspectedHosts":["github.com"]`} {
		if !strings.Contains(string(b), w) {
			t.Errorf("manifest lacks %s: %s", w, b)
		}
	}
	md := auditMarkdown(nil, &m, auditDenied{})
	if !strings.Contains(md, "**SSL Bump**: enabled (hooks: allow-urls; inspected hosts: github.com)\n  - URL rule `https://github.com/org/*`") {
		t.Errorf("markdown:\n%s", md)
	}
	// Without inspection the line is the original's, and the key is absent.
	m = NewManifest(nil, ManifestOptions{})
	b, _ = json.Marshal(m)
	if strings.Contains(string(b), "inspection") || !strings.Contains(auditMarkdown(nil, &m, auditDenied{}), "**SSL Bump**: disabled\n") {
		t.Errorf("no inspection: %s", b)
	}
	m = NewManifest(nil, ManifestOptions{SSLBump: true, Inspection: &InspectionInfo{}})
	if !strings.Contains(auditMarkdown(nil, &m, auditDenied{}), "enabled (inspected hosts: none; every host tunnelled)") {
		t.Error("ssl-bump without rules")
	}
}
