package logs

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Allowlist entries the run did not honour are recorded in the manifest
// and shown by `awf logs summary` (and stats) in every format.
func TestSummaryShowsIgnoredEntries(t *testing.T) {
	dir := t.TempDir()
	line := `{"ts":1774290908.910,"client":"172.30.0.20","host":"evilwild4.test:443","dest":"-","method":"CONNECT","status":403,` +
		`"decision":"TCP_DENIED","url":"evilwild4.test:443","rule":"deny-default","reason":"domain not in allowlist"}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "audit.jsonl"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	ignored := []IgnoredEntry{
		{Entry: "*wild4.test", List: "allow", Kind: "glued-wildcard",
			Reason:  "the '*' is joined to a label, so it also matches names of other owners under the public suffix 'test' (such as evilwild4.test)",
			Instead: "wild4.test,*.wild4.test"},
		{Entry: "203.0.113.*", List: "allow", Kind: "raw-ip", Reason: "raw IP addresses are always denied"},
		{Entry: "x|\x1b[31m.test", List: "allow", Kind: "invalid-name", Reason: "not a host name"},
	}
	rules := []Rule{{ID: "deny-default", Action: "deny", ACLName: "all", Protocol: "both", Description: "Deny all"}}
	if err := WritePolicyManifest(filepath.Join(dir, "policy-manifest.json"), rules, ManifestOptions{Ignored: ignored}); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(filepath.Join(dir, "policy-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "policy-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkSchema(t, "policy-manifest.schema.json", raw)
	if len(m.IgnoredEntries) != 3 || m.IgnoredEntries[0] != ignored[0] {
		t.Fatalf("manifest ignoredEntries = %+v", m.IgnoredEntries)
	}
	const want = "Ignored allowed domain '*wild4.test': the '*' is joined to a label, so it also matches names of other owners " +
		"under the public suffix 'test' (such as evilwild4.test); use wild4.test,*.wild4.test instead"
	for _, format := range []string{FormatMarkdown, FormatPretty, FormatJSON} {
		env, out, _ := testEnv(t)
		if err := RunStats(context.Background(), env, StatsOptions{Format: format, Source: dir, Summary: true}); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		switch format {
		case FormatJSON:
			checkSchema(t, "logs-stats.schema.json", out.Bytes())
			var v struct {
				IgnoredEntries []IgnoredEntry `json:"ignoredEntries"`
			}
			if err := json.Unmarshal(out.Bytes(), &v); err != nil || len(v.IgnoredEntries) != 3 || v.IgnoredEntries[0] != ignored[0] {
				t.Errorf("json ignoredEntries = %+v, %v\n%s", v.IgnoredEntries, err, got)
			}
		default:
			if !strings.Contains(got, want) || !strings.Contains(got, "Ignored allowed domain '203.0.113.*'") {
				t.Errorf("%s summary lacks the warning:\n%s", format, got)
			}
			if strings.Contains(got, "\x1b") {
				t.Errorf("%s summary passes a terminal escape from the manifest:\n%q", format, got)
			}
		}
		if format == FormatMarkdown && (!strings.HasPrefix(got, "> ⚠️ Ignored allowed domain") || strings.Contains(got, "x|")) {
			t.Errorf("markdown: the warning must lead, outside the collapsed block, table-safe:\n%s", got)
		}
	}
}
