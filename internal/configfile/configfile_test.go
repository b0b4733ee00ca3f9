package configfile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func load(t *testing.T, name, text string) (Document, error) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(p, Source{ReadFile: os.ReadFile})
}

// TestFormats: the spec's step 2, by extension, else JSON then YAML; "-"
// reads stdin the same way.
func TestFormats(t *testing.T) {
	const js = `{"network":{"allowDomains":["github.com"]},"container":{"agentTimeout":5}}`
	const ym = "network:\n  allowDomains: [github.com]\ncontainer:\n  agentTimeout: 5\n"
	for _, tc := range []struct {
		name, text string
		ok         bool
	}{
		{"c.json", js, true},
		{"c.yaml", ym, true},
		{"c.yml", ym, true},
		{"c.conf", js, true}, // no known extension: JSON first
		{"c", ym, true},      // ... then YAML
		{"c.json", ym, false},
		{"c.yaml", "network: [", false},
	} {
		d, err := load(t, tc.name, tc.text)
		if (err == nil) != tc.ok {
			t.Errorf("%s %q: err=%v, want ok=%v", tc.name, tc.text, err, tc.ok)
			continue
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "Failed to parse AWF config from ") {
				t.Errorf("%s: error %q lacks the original's prefix", tc.name, err)
			}
			continue
		}
		m, err := Map(d)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		for _, a := range m.Assignments {
			got[a.Flag] = a.Values
		}
		if strings.Join(got["allow-domains"], "|") != "github.com" || strings.Join(got["agent-timeout"], "|") != "5" {
			t.Errorf("%s: assignments %v", tc.name, got)
		}
	}
	for _, text := range []string{js, ym} {
		d, err := Load("-", Source{Stdin: strings.NewReader(text)})
		if err != nil {
			t.Fatalf("stdin %q: %v", text, err)
		}
		if v, _ := d.Lookup("network.allowDomains"); len(v.([]any)) != 1 {
			t.Errorf("stdin: %v", d)
		}
	}
	if _, err := Load("/nonexistent/awf.json", Source{ReadFile: os.ReadFile}); err == nil || !strings.Contains(err.Error(), "ENOENT: no such file or directory, open '/nonexistent/awf.json'") {
		t.Errorf("missing file: %v", err)
	}
}

// TestInvalidDocuments: the closed world. Each bad document is refused
// with the offending key path named.
func TestInvalidDocuments(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`[]`, "config root must be an object"},
		{``, "config root must be an object"},
		{`{"netwrok":{}}`, "config.netwrok is not supported"},
		{`{"netwrok":{}}`, "(this awf implements github/gh-aw-firewall docs/awf-config.schema.json at a4b47f60)"},
		{`{"network":{"allowDomain":["x"]}}`, "config.network.allowDomain is not supported"},
		{`{"network":{"allowDomains":"github.com"}}`, "config.network.allowDomains must be an array"},
		{`{"network":{"allowDomains":[1]}}`, "config.network.allowDomains.0 must be a string"},
		{`{"apiProxy":{"hostedWebTools":{"claude":{"enabled":false}}}}`, "config.apiProxy.hostedWebTools is not supported"},
		{`{"apiProxy":{"maxRuns":0}}`, "config.apiProxy.maxRuns must be >= 1"},
		{`{"apiProxy":{"maxRuns":1.5}}`, "config.apiProxy.maxRuns must be an integer"},
		{`{"apiProxy":{"maxAiCredits":0}}`, "config.apiProxy.maxAiCredits must be > 0"},
		{`{"apiProxy":{"models":{"_note":"elided"}}}`, "config.apiProxy.models._note must be an array"},
		{`{"apiProxy":{"anthropicCacheTailTtl":"2h"}}`, "config.apiProxy.anthropicCacheTailTtl must be one of: 5m, 1h"},
		{`{"apiProxy":{"auth":{"type":"github-oidc","provider":"aws"}}}`, "config.apiProxy.auth is missing required key(s): awsRoleArn, awsRegion"},
		{`{"logging":{"logLevel":"verbose"}}`, "config.logging.logLevel must be one of: debug, info, warn, error"},
		{`{"security":{"allowHostPorts":8080}}`, "config.security.allowHostPorts must be a string or array of strings"},
		{`{"network":{"topologyAttach":["mcpg"]}}`, "config.network is missing required key(s): isolation"},
		{`{"network":{"isolation":false,"topologyAttach":["mcpg"]}}`, "config.network.isolation must be true"},
		{`{"container":{"mounts":["relative:/x"]}}`, "config.container.mounts.0 must match the pattern"},
		{`{"container":{"containerRuntime":"kata"}}`, "config.container.containerRuntime must be one of: gvisor, sbx, cloud-hypervisor"},
		{`{"filesystem":{"allowWrite":["/a/../b"]}}`, "config.filesystem.allowWrite.0 must match the pattern"}, // an ECMA lookahead
		{`{"enclaves":[{"repos":[{"repo":"o/../x","sensitivity":"public"}],"script":{}}]}`, "config.enclaves.0.repos.0.repo must match the pattern"},
		{`{"enclaves":[{"repos":[{"repo":"o/r","sensitivity":"public"}]}]}`, "config.enclaves.0 must match exactly one of its allowed forms"},
		{`{"container":{"images":{"agent":"ghcr.io/a/b:1@sha256:` + strings.Repeat("a", 64) + `"},"imageTag":"1"}}`, "config.container combines keys that cannot be used together"},
		{"network:\n  allowDomains: [github.com]\n  allowDomains: [x]\n", "already defined"},
		{"when: 2024-01-01\n", "config.when is not supported"},
	} {
		name := "c.json"
		if !strings.HasPrefix(tc.doc, "{") && !strings.HasPrefix(tc.doc, "[") {
			name = "c.yaml"
		}
		_, err := load(t, name, tc.doc)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v\nwant it to contain %q", tc.doc, err, tc.want)
		}
	}
}

// TestValidDocuments: conforming documents from the spec's shapes load.
func TestValidDocuments(t *testing.T) {
	for _, doc := range []string{
		`{}`,
		`{"$schema":"https://x/awf-config.schema.json"}`,
		`{"filesystem":{"allowWrite":["/tmp/gh-aw","/home/runner/work"]}}`,
		`{"enclaves":[{"script":{},"repos":[{"repo":"octo-org/private-service","sensitivity":"confidential"}],"timeout":45},{"agent":{"model":"gpt-5"},"repos":[{"repo":"octo-org/private-service","sensitivity":"confidential"}]}]}`,
		`{"apiProxy":{"auth":{"type":"github-oidc","azureTenantId":"t","azureClientId":"c"}}}`,
		`{"security":{"allowHostPorts":["3000","8080-8090"],"allowHostServicePorts":"5432"}}`,
		`{"apiProxy":{"diagnostics":{"captureBlockedRequests":"summary"},"defaultAiCreditsPricing":{"input":1,"output":2,"cacheWrite":null}}}`,
		`{"container":{"images":{"agent":"ghcr.io/github/gh-aw-firewall/agent:0.28.4@sha256:` + strings.Repeat("a", 64) + `"}}}`,
		`{"cloudHypervisor":{"previewEnabled":true,"sha256":{"kernel":"` + strings.Repeat("A", 64) + `"}}}`,
	} {
		if _, err := load(t, "c.json", doc); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
}

// TestEveryKeyHasARule walks the schema: every property path is mapped to
// a flag or a notice, by itself or an ancestor, so no key of a conforming
// document can go unnoticed.
func TestEveryKeyHasARule(t *testing.T) {
	var sch map[string]any
	if err := json.Unmarshal(SchemaJSON, &sch); err != nil {
		t.Fatal(err)
	}
	if err := extendSchema(sch); err != nil {
		t.Fatal(err)
	}
	defs, _ := sch["$defs"].(map[string]any)
	covered := map[string]bool{}
	for _, r := range rules {
		covered[r.Path] = true
	}
	var missing []string
	var walk func(prefix string, node map[string]any)
	walk = func(prefix string, node map[string]any) {
		if ref, ok := node["$ref"].(string); ok {
			node = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		}
		props, _ := node["properties"].(map[string]any)
		for k, v := range props {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			if covered[p] {
				continue
			}
			child, _ := v.(map[string]any)
			if ref, ok := child["$ref"].(string); ok {
				child = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
			}
			if _, hasProps := child["properties"]; !hasProps {
				missing = append(missing, p)
				continue
			}
			walk(p, child)
		}
	}
	walk("", sch)
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("schema keys without a rule: %v", missing)
	}
	// And no rule names a key the schema does not have.
	for _, r := range rules {
		if r.Path == "$schema" {
			continue
		}
		node := sch
		for _, part := range strings.Split(r.Path, ".") {
			if ref, ok := node["$ref"].(string); ok {
				node = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
			}
			props, _ := node["properties"].(map[string]any)
			next, ok := props[part].(map[string]any)
			if !ok {
				t.Errorf("rule %s: no such key in the schema", r.Path)
				break
			}
			node = next
		}
	}
}

// TestMapping: keys map to the original's flags and value forms.
func TestMapping(t *testing.T) {
	d, err := load(t, "c.json", `{
	  "network": {"allowDomains": ["a.com","b.com"], "dnsServers": [], "isolation": false},
	  "apiProxy": {"enabled": true, "maxRuns": 8, "maxAiCredits": 1000.5, "models": {"x": ["y/*"]},
	    "targets": {"gemini": {"host": "g.example", "basePath": "/g"}, "antigravity": {"host": "ag.example"}}},
	  "security": {"securityMode": "compat", "allowHostPorts": ["80","443"], "enableDlp": false},
	  "container": {"mounts": ["/a:/a:ro", "/b:/b"], "agentTimeout": 10, "imageTag": "0.28.4"},
	  "rateLimiting": {"enabled": false},
	  "environment": {"excludeEnv": ["A","B"]},
	  "chroot": {"identity": {"uid": 1001}}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Map(d)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range m.Assignments {
		got[a.Flag] = strings.Join(a.Values, "|")
	}
	want := map[string]string{
		"allow-domains":        "a.com,b.com",
		"no-network-isolation": "true",
		"max-runs":             "8",
		"max-ai-credits":       "1000.5",
		"model-aliases":        `{"x":["y/*"]}`,
		"gemini-api-target":    "ag.example", // antigravity wins per field
		"gemini-api-base-path": "/g",
		"legacy-security":      "true",
		"allow-host-ports":     "80,443",
		"enable-dlp":           "false",
		"mount":                "/a:/a:ro|/b:/b",
		"agent-timeout":        "10",
		"image-tag":            "0.28.4",
		"no-rate-limit":        "true",
		"exclude-env":          "A|B",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("--%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["dns-servers"]; ok {
		t.Error("an empty dnsServers array must keep the default")
	}
	if len(got) != len(want) {
		t.Errorf("assignments %v, want exactly %v", got, want)
	}
	var notes []string
	for _, n := range m.Notices {
		notes = append(notes, n.Key)
	}
	if strings.Join(notes, ",") != "apiProxy.enabled,chroot.identity" {
		t.Errorf("notices %v", notes)
	}

	d, _ = load(t, "c.json", `{"filesystem":{"allowWrite":["/tmp"]}}`)
	if _, err := Map(d); err == nil || !strings.Contains(err.Error(), "config.filesystem.allowWrite") {
		t.Errorf("allowWrite must be refused: %v", err)
	}
}

// TestLockFileDocuments: every distinct awf-config.json the original's own
// lock files write (github/gh-aw-firewall f5509576, .github/workflows/
// *.lock.yml: the printf'd document, bash-unescaped, ${GH_AW_MAX_AI_CREDITS}
// = 1000; plus the jq chroot patch those DinD-aware workflows apply) loads
// as JSON and as YAML, validates, and maps without a refusal.
func TestLockFileDocuments(t *testing.T) {
	data, err := os.ReadFile("testdata/lockfile-configs.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var row struct {
			Source string         `json:"source"`
			Doc    map[string]any `json:"doc"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(row.Doc)
		ym, err := yaml.Marshal(row.Doc)
		if err != nil {
			t.Fatal(err)
		}
		for name, text := range map[string]string{"awf-config.json": string(raw), "awf-config": string(raw), "awf-config.yml": string(ym)} {
			d, err := load(t, name, text)
			if err != nil {
				t.Errorf("%s (%s): %v", row.Source, name, err)
				continue
			}
			m, err := Map(d)
			if err != nil {
				t.Errorf("%s: %v", row.Source, err)
				continue
			}
			flags := map[string]bool{}
			for _, a := range m.Assignments {
				flags[a.Flag] = true
			}
			if _, ok := row.Doc["network"]; ok && !flags["allow-domains"] {
				t.Errorf("%s: allowDomains not mapped", row.Source)
			}
		}
		n++
	}
	if n < 40 {
		t.Fatalf("only %d documents", n)
	}
	t.Logf("%d lock-file documents load, validate and map", n)
}

// BenchmarkLoadLockFileDocument: what --config adds to a run's start-up
// (the largest lock-file document: read, parse, validate, map).
func BenchmarkLoadLockFileDocument(b *testing.B) {
	data, err := os.ReadFile("testdata/lockfile-configs.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	var biggest []byte
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var row struct {
			Doc json.RawMessage `json:"doc"`
		}
		json.Unmarshal([]byte(line), &row)
		if len(row.Doc) > len(biggest) {
			biggest = row.Doc
		}
	}
	p := filepath.Join(b.TempDir(), "awf-config.json")
	os.WriteFile(p, biggest, 0o600)
	schemaRoot() // parsed once per process, like the first Load of a run
	b.SetBytes(int64(len(biggest)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := Load(p, Source{ReadFile: os.ReadFile})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Map(d); err != nil {
			b.Fatal(err)
		}
	}
}

// gh-aw v0.28.31 documents carry keys newer than the embedded schema; the
// extensions accept exactly their shape and nothing beside it.
func TestSchemaExtensions(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want string // "" = conforming
	}{
		{`{"apiProxy":{"hostedWeb":{"claude":{"enabled":false}}}}`, ""},
		{`{"apiProxy":{"hostedWeb":{"copilot":{"enabled":true}}}}`, ""},
		{`{"cloudHypervisor":{"mountPolicy":"workspace-and-tool-cache"}}`, ""},
		{`{"apiProxy":{"hostedWeb":{"claude":{"enabled":"no"}}}}`, "config.apiProxy.hostedWeb.claude.enabled"},
		{`{"apiProxy":{"hostedWeb":{"claude":{"enabled":false,"tools":[]}}}}`, "config.apiProxy.hostedWeb.claude.tools"},
		{`{"cloudHypervisor":{"mountPolicy":3}}`, "config.cloudHypervisor.mountPolicy"},
	} {
		var v any
		if err := json.Unmarshal([]byte(tc.doc), &v); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(Validate(v), "\n")
		if tc.want == "" && got != "" {
			t.Errorf("%s: refused: %s", tc.doc, got)
		}
		if tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %q, want a message naming %s", tc.doc, got, tc.want)
		}
	}
	// A stale extension (the schema now defines the key) must fail loudly.
	var sch any
	_ = json.Unmarshal(SchemaJSON, &sch)
	if err := extendSchema(sch); err != nil {
		t.Fatal(err)
	}
	if err := extendSchema(sch); err == nil {
		t.Fatal("extending twice: want an 'already defined' error")
	}
}
