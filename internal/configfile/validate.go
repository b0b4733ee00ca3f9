package configfile

import (
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// The validator evaluates the JSON Schema 2020-12 keywords that the
// published awf-config schema uses, straight from the schema document.
//
// Why not a library: the only maintained Go validator that runs the
// schema's ECMA-262 patterns (lookaheads), santhosh-tekuri/jsonschema,
// compiles the metaschemas of five drafts in its package init: 5-8 ms and
// 1.7 MB in every awf process, and a run starts two or three (sudo re-exec,
// the sandbox init), about a seventh of `awf -- true`. That library stays
// as the oracle of the tests (validate_test.go): both must agree on every
// lock-file document and on thousands of mutations of them.
//
// A keyword the schema starts using that is not evaluated here makes
// schemaKeywords fail (TestSchemaKeywordsKnown), so the evaluator cannot
// silently fall behind a schema update.

// evaluated lists the keywords the evaluator implements; annotations are
// listed so that the keyword check knows them.
var evaluated = map[string]bool{
	"type": true, "enum": true, "const": true, "$ref": true,
	"properties": true, "additionalProperties": true, "required": true,
	"items": true, "minItems": true, "maxItems": true,
	"contains": true, "minContains": true, "maxContains": true,
	"minLength": true, "maxLength": true, "pattern": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true,
	"allOf": true, "anyOf": true, "oneOf": true, "not": true,
	"if": true, "then": true, "else": true,
	// annotations and identifiers: no assertion
	"$schema": true, "$id": true, "$defs": true, "title": true, "description": true,
	"default": true, "deprecated": true, "examples": true, "version": true,
}

var (
	rootOnce sync.Once
	root     map[string]any
	rootErr  error
)

// schemaRoot parses SchemaJSON and applies the extensions once.
func schemaRoot() (map[string]any, error) {
	rootOnce.Do(func() {
		var doc any
		if rootErr = json.Unmarshal(SchemaJSON, &doc); rootErr != nil {
			return
		}
		if rootErr = extendSchema(doc); rootErr != nil {
			return
		}
		root = doc.(map[string]any)
	})
	return root, rootErr
}

// patterns caches compiled ECMA-262 patterns (Go's regexp has no
// lookahead; regexp2 in ECMAScript mode does).
var patterns sync.Map // string -> *regexp2.Regexp or error

func pattern(s string) (*regexp2.Regexp, error) {
	if v, ok := patterns.Load(s); ok {
		if re, ok := v.(*regexp2.Regexp); ok {
			return re, nil
		}
		return nil, v.(error)
	}
	re, err := regexp2.Compile(s, regexp2.ECMAScript)
	if err != nil {
		patterns.Store(s, err)
		return nil, err
	}
	re.MatchTimeout = time.Second // bounded: backtracking engine, small inputs
	patterns.Store(s, re)
	return re, nil
}

// validator walks one instance against the schema; root resolves $ref.
type validator struct {
	root map[string]any
}

// check returns the problems of v at path against schema s (nil = valid).
func (c validator) check(s any, v any, path []string) []string {
	switch s := s.(type) {
	case bool:
		if s {
			return nil
		}
		return []string{KeyPath(path) + " is not allowed here"}
	case map[string]any:
		return c.object(s, v, path)
	}
	return []string{"the built-in schema has a non-schema value at " + KeyPath(path)}
}

func (c validator) valid(s any, v any, path []string) bool { return len(c.check(s, v, path)) == 0 }

func (c validator) object(s map[string]any, v any, path []string) []string {
	var out []string
	p := KeyPath(path)
	add := func(format string, a ...any) { out = append(out, p+fmt.Sprintf(format, a...)) }
	if ref, ok := s["$ref"].(string); ok {
		target, err := c.resolve(ref)
		if err != nil {
			return []string{err.Error()}
		}
		out = append(out, c.check(target, v, path)...)
	}
	if t, ok := s["type"]; ok && !hasType(t, v) {
		add("%s", typeMessage(t))
	}
	if e, ok := s["enum"].([]any); ok && !contains(e, v) {
		var want []string
		for _, w := range e {
			want = append(want, fmt.Sprint(w))
		}
		add(" must be one of: %s", strings.Join(want, ", "))
	}
	if k, ok := s["const"]; ok && !equal(k, v) {
		add(" must be %v", k)
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k]; ok {
				out = append(out, c.check(ps, x[k], append(path[:len(path):len(path)], k))...)
			} else if ap, ok := s["additionalProperties"]; ok {
				if ap == false {
					out = append(out, p+"."+k+" is not supported")
				} else {
					out = append(out, c.check(ap, x[k], append(path[:len(path):len(path)], k))...)
				}
			}
		}
		if req, ok := s["required"].([]any); ok {
			var missing []string
			for _, r := range req {
				if _, ok := x[fmt.Sprint(r)]; !ok {
					missing = append(missing, fmt.Sprint(r))
				}
			}
			if len(missing) > 0 {
				add(" is missing required key(s): %s", strings.Join(missing, ", "))
			}
		}
	case []any:
		if it, ok := s["items"]; ok {
			for i, e := range x {
				out = append(out, c.check(it, e, append(path[:len(path):len(path)], fmt.Sprint(i)))...)
			}
		}
		if n, ok := intKeyword(s, "minItems"); ok && len(x) < n {
			add(" must have at least %d item(s)", n)
		}
		if n, ok := intKeyword(s, "maxItems"); ok && len(x) > n {
			add(" must have at most %d item(s)", n)
		}
		if cs, ok := s["contains"]; ok {
			matched := 0
			for i, e := range x {
				if c.valid(cs, e, append(path[:len(path):len(path)], fmt.Sprint(i))) {
					matched++
				}
			}
			min, ok := intKeyword(s, "minContains")
			if !ok {
				min = 1
			}
			if matched < min {
				add(" must have at least %d item(s) matching %s", min, describe(cs))
			}
			if max, ok := intKeyword(s, "maxContains"); ok && matched > max {
				add(" must have at most %d item(s) matching %s", max, describe(cs))
			}
		}
	case string:
		n := utf8.RuneCountInString(x)
		if m, ok := intKeyword(s, "minLength"); ok && n < m {
			add(" must be at least %d character(s) long", m)
		}
		if m, ok := intKeyword(s, "maxLength"); ok && n > m {
			add(" must be at most %d character(s) long", m)
		}
		if pat, ok := s["pattern"].(string); ok {
			re, err := pattern(pat)
			if err != nil {
				return append(out, fmt.Sprintf("the built-in schema's pattern %q does not compile: %v", pat, err))
			}
			if ok, err := re.MatchString(x); err != nil || !ok {
				add(" must match the pattern %s", pat)
			}
		}
	case json.Number:
		if r, ok := new(big.Rat).SetString(x.String()); ok {
			for _, b := range []struct {
				kw, op string
				fail   func(int) bool
			}{
				{"minimum", ">=", func(c int) bool { return c < 0 }},
				{"exclusiveMinimum", ">", func(c int) bool { return c <= 0 }},
				{"maximum", "<=", func(c int) bool { return c > 0 }},
			} {
				if w, ok := s[b.kw]; ok {
					if want, ok := rat(w); ok && b.fail(r.Cmp(want)) {
						add(" must be %s %s", b.op, want.RatString())
					}
				}
			}
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			out = append(out, c.check(sub, v, path)...)
		}
	}
	if anyOf, ok := s["anyOf"].([]any); ok {
		var branch []string
		for _, sub := range anyOf {
			errs := c.check(sub, v, path)
			if len(errs) == 0 {
				branch = nil
				break
			}
			branch = append(branch, errs...)
		}
		out = append(out, branch...)
	}
	if one, ok := s["oneOf"].([]any); ok {
		n := 0
		for _, sub := range one {
			if c.valid(sub, v, path) {
				n++
			}
		}
		if n != 1 { // the branches' own failures are noise, as the original drops them
			if len(path) > 0 && strings.HasSuffix(path[len(path)-1], "Ports") {
				add(" must be a string or array of strings")
			} else {
				add(" must match exactly one of its allowed forms")
			}
		}
	}
	if not, ok := s["not"]; ok && c.valid(not, v, path) {
		add(" combines keys that cannot be used together")
	}
	if cond, ok := s["if"]; ok {
		branch := "else"
		if c.valid(cond, v, path) {
			branch = "then"
		}
		if sub, ok := s[branch]; ok {
			out = append(out, c.check(sub, v, path)...)
		}
	}
	return out
}

// resolve follows a local reference (#/$defs/name, JSON pointer).
func (c validator) resolve(ref string) (any, error) {
	ptr, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("the built-in schema has a non-local $ref %q", ref)
	}
	var cur any = c.root
	for _, tok := range strings.Split(ptr, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("the built-in schema's $ref %q does not resolve", ref)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("the built-in schema's $ref %q does not resolve", ref)
		}
	}
	return cur, nil
}

func hasType(t any, v any) bool {
	switch t := t.(type) {
	case string:
		return isType(t, v)
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok && isType(s, v) {
				return true
			}
		}
	}
	return false
}

func isType(t string, v any) bool {
	switch x := v.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case []any:
		return t == "array"
	case map[string]any:
		return t == "object"
	case json.Number:
		if t == "number" {
			return true
		}
		if t == "integer" {
			r, ok := new(big.Rat).SetString(x.String())
			return ok && r.IsInt()
		}
	}
	return false
}

func typeMessage(t any) string {
	var want []string
	switch t := t.(type) {
	case string:
		want = []string{t}
	case []any:
		for _, e := range t {
			want = append(want, fmt.Sprint(e))
		}
	}
	if len(want) != 1 {
		return " must be one of the types " + strings.Join(want, ", ")
	}
	switch want[0] {
	case "object", "array", "integer":
		return " must be an " + want[0]
	}
	return " must be a " + want[0]
}

// describe names what a contains schema asks for, for its message.
func describe(s any) string {
	if m, ok := s.(map[string]any); ok {
		if req, ok := m["required"].([]any); ok && len(req) > 0 {
			var keys []string
			for _, r := range req {
				keys = append(keys, fmt.Sprint(r))
			}
			return "key(s) " + strings.Join(keys, ", ")
		}
	}
	return "its contains schema"
}

func intKeyword(s map[string]any, kw string) (int, bool) {
	r, ok := rat(s[kw])
	if !ok || !r.IsInt() {
		return 0, false
	}
	return int(r.Num().Int64()), true
}

// rat reads a number of the schema (float64 from encoding/json) or of an
// instance (json.Number) exactly.
func rat(v any) (*big.Rat, bool) {
	switch x := v.(type) {
	case float64:
		return new(big.Rat).SetFloat64(x), true
	case json.Number:
		return new(big.Rat).SetString(x.String())
	}
	return nil, false
}

func contains(list []any, v any) bool {
	for _, e := range list {
		if equal(e, v) {
			return true
		}
	}
	return false
}

// equal is JSON equality: numbers by value, objects and arrays deeply.
func equal(a, b any) bool {
	if ra, ok := rat(a); ok {
		rb, ok := rat(b)
		return ok && ra.Cmp(rb) == 0
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, e := range x {
			f, ok := y[k]
			if !ok || !equal(e, f) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}
