package fakeprovider

import (
	"encoding/json"
	"strings"
)

// fromSchema builds the smallest value that satisfies a JSON schema (the
// OpenAPI subset the providers accept, type names in either case). Agents
// ask for structured output in side calls (routing, titles, classifiers)
// and retry for long when the answer does not parse.
func fromSchema(s map[string]any, depth int) any {
	if depth > 8 {
		return nil
	}
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		if alts, ok := s[k].([]any); ok && len(alts) > 0 {
			if m, ok := alts[0].(map[string]any); ok {
				return fromSchema(m, depth+1)
			}
		}
	}
	typ, _ := s["type"].(string)
	if ts, ok := s["type"].([]any); ok && len(ts) > 0 {
		typ, _ = ts[0].(string)
	}
	switch strings.ToLower(typ) {
	case "string":
		return "fake"
	case "integer", "number":
		if m, ok := s["minimum"].(float64); ok {
			return m
		}
		return 1
	case "boolean":
		return false
	case "array":
		if it, ok := s["items"].(map[string]any); ok {
			if n, ok := s["minItems"].(float64); ok && n > 0 {
				return []any{fromSchema(it, depth+1)}
			}
		}
		return []any{}
	case "null":
		return nil
	}
	out := map[string]any{}
	props, _ := s["properties"].(map[string]any)
	for k, v := range props {
		if m, ok := v.(map[string]any); ok {
			out[k] = fromSchema(m, depth+1)
		}
	}
	return out
}

// structuredText is the answer text for a request that wants JSON: the
// schema's smallest instance, or {} when the schema is absent.
func structuredText(schema map[string]any) string {
	if schema == nil {
		return "{}"
	}
	b, _ := json.Marshal(fromSchema(schema, 0))
	return string(b)
}
