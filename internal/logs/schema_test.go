package logs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/logs/schemacheck"
)

func loadSchema(t *testing.T, name string) schemacheck.Validator {
	t.Helper()
	v, err := schemacheck.Load(filepath.Join("..", "..", "docs", "schema", name))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func checkSchema(t *testing.T, schema string, doc []byte) {
	t.Helper()
	if err := loadSchema(t, schema).Validate(doc); err != nil {
		t.Errorf("%s: %v\n%s", schema, err, doc)
	}
}

// TestSchemasValidateOutputs runs every --format json output over the test
// logs and checks it against docs/schema.
func TestSchemasValidateOutputs(t *testing.T) {
	ctx := context.Background()
	for _, src := range []string{"testdata/run", "testdata/squid", "testdata/run/audit.jsonl"} {
		env, out, _ := testEnv(t)
		if err := RunLogs(ctx, env, LogsOptions{Format: "json", Source: src}); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if strings.HasPrefix(line, "{\"timestamp\"") {
				checkSchema(t, "logs-entry.schema.json", []byte(line))
				n++
			}
		}
		if n < 3 {
			t.Errorf("%s: only %d entries", src, n)
		}
		if !strings.HasSuffix(src, ".jsonl") {
			env, out, _ = testEnv(t)
			if err := RunStats(ctx, env, StatsOptions{Format: "json", Source: src}); err != nil {
				t.Fatal(err)
			}
			checkSchema(t, "logs-stats.schema.json", out.Bytes())
		}
		env, out, _ = testEnv(t)
		if err := RunAudit(ctx, env, AuditOptions{Format: "json", Source: src}); err != nil {
			t.Fatal(err)
		}
		checkSchema(t, "logs-audit.schema.json", out.Bytes())
	}
	// An empty log: null time range, empty byDomain.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "access.log"), nil, 0o644)
	env, out, _ := testEnv(t)
	if err := RunStats(ctx, env, StatsOptions{Format: "json", Source: dir}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"timeRange": null`) {
		t.Errorf("%s", out)
	}
	checkSchema(t, "logs-stats.schema.json", out.Bytes())

	mp := filepath.Join(t.TempDir(), "policy-manifest.json")
	if err := WritePolicyManifest(mp, sampleRules(), ManifestOptions{AllowHostPorts: "3000"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(mp)
	checkSchema(t, "policy-manifest.schema.json", b)
	b, _ = os.ReadFile("testdata/run/policy-manifest.json")
	checkSchema(t, "policy-manifest.schema.json", b)
}

// TestSchemaValidatorRejects shows the validator can fail.
func TestSchemaValidatorRejects(t *testing.T) {
	v := loadSchema(t, "logs-stats.schema.json")
	bad := []string{
		`{}`,
		`{"totalRequests":1,"allowedRequests":1,"deniedRequests":0,"uniqueDomains":1,"timeRange":null,"byDomain":{},"malformedLines":0,"extra":1}`,
		`{"totalRequests":-1,"allowedRequests":1,"deniedRequests":0,"uniqueDomains":1,"timeRange":null,"byDomain":{},"malformedLines":0}`,
		`{"totalRequests":1.5,"allowedRequests":1,"deniedRequests":0,"uniqueDomains":1,"timeRange":null,"byDomain":{},"malformedLines":0}`,
		`{"totalRequests":1,"allowedRequests":1,"deniedRequests":0,"uniqueDomains":1,"timeRange":{"start":1},"byDomain":{},"malformedLines":0}`,
		`{"totalRequests":1,"allowedRequests":1,"deniedRequests":0,"uniqueDomains":1,"timeRange":null,"byDomain":{"a":{"allowed":1}},"malformedLines":0}`,
		`{"totalRequests":1,"allowedRequests":1,"deniedRequests":0,"uniqueDomains":1,"timeRange":null,"byDomain":{},"malformedLines":0,"byRule":[{"ruleId":"x","description":"","action":"maybe","hits":1}]}`,
		`{"totalRequests":1,"allowedRequests":1,"deniedRequests":0,"uniqueDomains":1,"timeRange":null,"byDomain":{},"malformedLines":0,"tokenUsage":{"file":"f","total":{},"byProvider":[],"byModel":[]}}`,
	}
	for _, b := range bad {
		if err := v.Validate([]byte(b)); err == nil {
			t.Errorf("accepted %s", b)
		}
	}
	if err := v.Validate([]byte(`{"totalRequests":1,"allowedRequests":1,"deniedRequests":0,"uniqueDomains":1,"timeRange":null,"byDomain":{"a":{"allowed":1,"denied":0,"total":1}},"malformedLines":0}`)); err != nil {
		t.Errorf("rejected a valid document: %v", err)
	}
}
