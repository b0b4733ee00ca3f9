package ruleset

import (
	"io/fs"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	files := map[string]string{
		"ok.yml":       "version: 1\nrules:\n  - domain: github.com\n  - domain: ' npmjs.org '\n    subdomains: false\n  - domain: github.com\n",
		"ok2.yml":      "version: 1\nrules:\n  - domain: pypi.org\n  - domain: npmjs.org\n",
		"empty.yml":    "",
		"list.yml":     "- a\n",
		"nover.yml":    "rules: []\n",
		"v2.yml":       "version: 2\nrules: []\n",
		"vstr.yml":     "version: '1'\nrules: []\n",
		"norules.yml":  "version: 1\n",
		"rulesobj.yml": "version: 1\nrules: {domain: x}\n",
		"badrule.yml":  "version: 1\nrules: [x]\n",
		"nodomain.yml": "version: 1\nrules: [{subdomains: true}]\n",
		"blank.yml":    "version: 1\nrules: [{domain: '  '}]\n",
		"badsub.yml":   "version: 1\nrules: [{domain: a.com, subdomains: 'no'}]\n",
		"bad.yml":      "version: 1\nrules: [\n",
	}
	read := func(p string) ([]byte, error) {
		s, ok := files[p]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(s), nil
	}
	d, exact, err := Load(read, []string{"ok.yml", "ok2.yml"})
	if err != nil || strings.Join(d, ",") != "github.com,npmjs.org,pypi.org" || strings.Join(exact, ",") != "npmjs.org" {
		t.Fatalf("Load = %v %v %v", d, exact, err)
	}
	for name, want := range map[string]string{
		"missing.yml":  "Ruleset file not found: missing.yml",
		"empty.yml":    "Ruleset file empty.yml is empty",
		"list.yml":     `Ruleset file list.yml must contain a YAML object with "version" and "rules" fields`,
		"nover.yml":    `Ruleset file nover.yml is missing required "version" field`,
		"v2.yml":       "Unsupported ruleset version 2 in v2.yml (expected 1)",
		"vstr.yml":     "Unsupported ruleset version 1 in vstr.yml (expected 1)",
		"norules.yml":  `Ruleset file norules.yml is missing required "rules" field`,
		"rulesobj.yml": `"rules" field in rulesobj.yml must be an array`,
		"badrule.yml":  `Rule at index 0 in badrule.yml must be an object with a "domain" field`,
		"nodomain.yml": `Rule at index 0 in nodomain.yml is missing required "domain" string field`,
		"blank.yml":    `Rule at index 0 in blank.yml has an empty "domain" field`,
		"badsub.yml":   `Rule at index 0 in badsub.yml: "subdomains" must be a boolean`,
		"bad.yml":      "Invalid YAML in ruleset file bad.yml",
	} {
		_, _, err := Load(read, []string{"ok.yml", name})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
}
