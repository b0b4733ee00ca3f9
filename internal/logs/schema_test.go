package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A tiny JSON Schema (draft 2020-12) validator for the keywords the files
// in docs/schema use: type, enum, properties, required,
// additionalProperties, items, minimum and local $ref ("#/$defs/x"), with
// $ref applied alongside its sibling keywords as 2020-12 says. Unknown
// keywords make it fail, so a schema cannot silently use something the
// validator ignores.
type schemaValidator struct{ root map[string]any }

var annotationKeys = map[string]bool{"$schema": true, "$id": true, "title": true, "description": true, "$defs": true}

func (v schemaValidator) validate(s map[string]any, x any, path string) error {
	for k := range s {
		switch k {
		case "type", "enum", "properties", "required", "additionalProperties", "items", "minimum", "$ref":
		default:
			if !annotationKeys[k] {
				return fmt.Errorf("schema keyword %q not supported by the test validator", k)
			}
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		target, err := v.resolve(ref)
		if err != nil {
			return err
		}
		if err := v.validate(target, x, path); err != nil {
			return err
		}
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch tt := t.(type) {
		case string:
			types = []string{tt}
		case []any:
			for _, e := range tt {
				types = append(types, e.(string))
			}
		}
		match := false
		for _, ty := range types {
			if hasType(x, ty) {
				match = true
			}
		}
		if !match {
			return fmt.Errorf("%s: %v is not of type %v", path, x, types)
		}
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(x) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s: %v not in %v", path, x, enum)
		}
	}
	if m, ok := s["minimum"].(float64); ok {
		if n, isNum := x.(float64); isNum && n < m {
			return fmt.Errorf("%s: %v < minimum %v", path, n, m)
		}
	}
	if obj, ok := x.(map[string]any); ok {
		for _, r := range asSlice(s["required"]) {
			if _, ok := obj[r.(string)]; !ok {
				return fmt.Errorf("%s: missing required %q", path, r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, val := range obj {
			if ps, ok := props[k].(map[string]any); ok {
				if err := v.validate(ps, val, path+"."+k); err != nil {
					return err
				}
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Errorf("%s: unexpected property %q", path, k)
				}
			case map[string]any:
				if err := v.validate(ap, val, path+"."+k); err != nil {
					return err
				}
			}
		}
	}
	if arr, ok := x.([]any); ok {
		if is, ok := s["items"].(map[string]any); ok {
			for i, e := range arr {
				if err := v.validate(is, e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func asSlice(x any) []any { s, _ := x.([]any); return s }

func (v schemaValidator) resolve(ref string) (map[string]any, error) {
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok {
		return nil, fmt.Errorf("unsupported $ref %q", ref)
	}
	defs, _ := v.root["$defs"].(map[string]any)
	d, ok := defs[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("unknown $ref %q", ref)
	}
	return d, nil
}

func hasType(x any, t string) bool {
	switch t {
	case "object":
		_, ok := x.(map[string]any)
		return ok
	case "array":
		_, ok := x.([]any)
		return ok
	case "string":
		_, ok := x.(string)
		return ok
	case "boolean":
		_, ok := x.(bool)
		return ok
	case "null":
		return x == nil
	case "number":
		_, ok := x.(float64)
		return ok
	case "integer":
		n, ok := x.(float64)
		return ok && n == math.Trunc(n)
	}
	return false
}

func loadSchema(t *testing.T, name string) schemaValidator {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "schema", name))
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return schemaValidator{root}
}

func checkSchema(t *testing.T, schema string, doc []byte) {
	t.Helper()
	v := loadSchema(t, schema)
	var x any
	if err := json.Unmarshal(doc, &x); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, doc)
	}
	if err := v.validate(v.root, x, "$"); err != nil {
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
		var x any
		json.Unmarshal([]byte(b), &x)
		if err := v.validate(v.root, x, "$"); err == nil {
			t.Errorf("accepted %s", b)
		}
	}
	var x any
	json.Unmarshal(bytes.TrimSpace([]byte(`{"totalRequests":1,"allowedRequests":1,"deniedRequests":0,"uniqueDomains":1,"timeRange":null,"byDomain":{"a":{"allowed":1,"denied":0,"total":1}},"malformedLines":0}`)), &x)
	if err := v.validate(v.root, x, "$"); err != nil {
		t.Errorf("rejected a valid document: %v", err)
	}
}
