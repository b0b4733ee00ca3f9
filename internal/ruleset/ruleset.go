// Package ruleset reads the original's --ruleset-file format: a YAML
// document `version: 1` with `rules: [{domain: x, subdomains: bool}]`, whose
// domains join the allowlist. Messages are the original's (src/rules.ts).
package ruleset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Rule is one entry. Subdomains defaults to true.
type Rule struct {
	Domain     string
	Subdomains bool
}

// Parse validates one ruleset document; path is only for messages.
func Parse(data []byte, path string) ([]Rule, error) {
	var doc any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		return nil, fmt.Errorf("Invalid YAML in ruleset file %s: %v", path, err)
	}
	if doc == nil {
		return nil, fmt.Errorf("Ruleset file %s is empty", path)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf(`Ruleset file %s must contain a YAML object with "version" and "rules" fields`, path)
	}
	ver, ok := obj["version"]
	if !ok {
		return nil, fmt.Errorf(`Ruleset file %s is missing required "version" field`, path)
	}
	if !isOne(ver) {
		return nil, fmt.Errorf("Unsupported ruleset version %v in %s (expected 1)", ver, path)
	}
	raw, ok := obj["rules"]
	if !ok {
		return nil, fmt.Errorf(`Ruleset file %s is missing required "rules" field`, path)
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf(`"rules" field in %s must be an array`, path)
	}
	var out []Rule
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf(`Rule at index %d in %s must be an object with a "domain" field`, i, path)
		}
		d, ok := m["domain"].(string)
		if !ok {
			return nil, fmt.Errorf(`Rule at index %d in %s is missing required "domain" string field`, i, path)
		}
		d = strings.TrimSpace(d)
		if d == "" {
			return nil, fmt.Errorf(`Rule at index %d in %s has an empty "domain" field`, i, path)
		}
		r := Rule{Domain: d, Subdomains: true}
		if s, present := m["subdomains"]; present {
			b, ok := s.(bool)
			if !ok {
				return nil, fmt.Errorf(`Rule at index %d in %s: "subdomains" must be a boolean`, i, path)
			}
			r.Subdomains = b
		}
		out = append(out, r)
	}
	return out, nil
}

// Load reads each file in order and returns the allowlist entries they
// add, de-duplicated, in first-seen order. `subdomains: false` is reserved
// in the original (a plain domain there still admits its subdomains, as
// everywhere in the allowlist language); the same holds here, and
// exactOnly lists those domains so the caller can say so.
func Load(readFile func(string) ([]byte, error), files []string) (domains, exactOnly []string, err error) {
	seen := map[string]bool{}
	for _, f := range files {
		data, rerr := readFile(f)
		if rerr != nil {
			if errors.Is(rerr, fs.ErrNotExist) {
				return nil, nil, fmt.Errorf("Ruleset file not found: %s", f)
			}
			return nil, nil, fmt.Errorf("Failed to read ruleset file %s: %v", f, rerr)
		}
		rules, perr := Parse(data, f)
		if perr != nil {
			return nil, nil, perr
		}
		for _, r := range rules {
			if !r.Subdomains {
				exactOnly = append(exactOnly, r.Domain)
			}
			if !seen[r.Domain] {
				seen[r.Domain] = true
				domains = append(domains, r.Domain)
			}
		}
	}
	return domains, exactOnly, nil
}

// isOne: the original compares with `=== 1`, which a YAML 1 or 1.0 passes.
func isOne(v any) bool {
	switch n := v.(type) {
	case int:
		return n == 1
	case float64:
		return n == 1
	}
	return false
}
