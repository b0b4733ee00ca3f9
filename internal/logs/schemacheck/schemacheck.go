// Package schemacheck is a tiny JSON Schema (draft 2020-12) validator for
// the keywords docs/schema uses, so tests can check real outputs against
// the published schemas without a dependency.
package schemacheck

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
)

// A tiny JSON Schema (draft 2020-12) validator for the keywords the files
// in docs/schema use: type, enum, properties, required,
// additionalProperties, items, minimum and local $ref ("#/$defs/x"), with
// $ref applied alongside its sibling keywords as 2020-12 says. Unknown
// keywords make it fail, so a schema cannot silently use something the
// validator ignores.
// Validator checks documents against one schema.
type Validator struct{ root map[string]any }

var annotationKeys = map[string]bool{"$schema": true, "$id": true, "title": true, "description": true, "$defs": true}

func (v Validator) validate(s map[string]any, x any, path string) error {
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

func (v Validator) resolve(ref string) (map[string]any, error) {
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

// Load reads a schema file.
func Load(path string) (Validator, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Validator{}, err
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		return Validator{}, fmt.Errorf("%s: %w", path, err)
	}
	return Validator{root}, nil
}

// Validate checks one JSON document.
func (v Validator) Validate(doc []byte) error {
	var x any
	if err := json.Unmarshal(doc, &x); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return v.validate(v.root, x, "$")
}
