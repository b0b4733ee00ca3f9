package configfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/dlclark/regexp2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// oracle compiles the same schema (extensions applied) with
// santhosh-tekuri/jsonschema, a complete 2020-12 validator: the reference
// the evaluator in validate.go is held to.
func oracle(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SchemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	if err := extendSchema(doc); err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.UseRegexpEngine(func(s string) (jsonschema.Regexp, error) {
		re, err := regexp2.Compile(s, regexp2.ECMAScript)
		return (*ecmaRE)(re), err
	})
	if err := c.AddResource("s.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("s.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type ecmaRE regexp2.Regexp

func (r *ecmaRE) MatchString(s string) bool {
	ok, err := (*regexp2.Regexp)(r).MatchString(s)
	return err == nil && ok
}
func (r *ecmaRE) String() string { return (*regexp2.Regexp)(r).String() }

// oracleLocations returns the instance locations the oracle reports at
// the leaves of its error tree (oneOf counts as a leaf: its branches'
// failures are not reported).
func oracleLocations(s *jsonschema.Schema, v any) (bool, []string) {
	err := s.Validate(v)
	if err == nil {
		return true, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return false, []string{"?" + err.Error()}
	}
	seen := map[string]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if _, oneOf := e.ErrorKind.(*kind.OneOf); oneOf || len(e.Causes) == 0 {
			seen[KeyPath(e.InstanceLocation)] = true
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return false, out
}

// ourLocations: the key paths our messages name ("config.a.b must ...",
// "config.a.b is ..."); an additional property names its parent object,
// as the oracle's location does.
func ourLocations(msgs []string) []string {
	seen := map[string]bool{}
	for _, m := range msgs {
		p, _, _ := strings.Cut(m, " ")
		if strings.HasSuffix(m, " is not supported") {
			p = p[:strings.LastIndex(p, ".")]
		}
		seen[p] = true
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func lockFileDocs(t testing.TB) []map[string]any {
	data, err := os.ReadFile("testdata/lockfile-configs.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var row struct {
			Doc json.RawMessage `json:"doc"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		v, err := parseJSON(row.Doc)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, v.(map[string]any))
	}
	return docs
}

// replacements are values of every JSON kind, and the edge values the
// schema's keywords turn on.
var replacements = []any{
	nil, true, false, "", "x", "github.com", "/abs/path", "/a/../b", "5m", "512m", "a/b",
	json.Number("0"), json.Number("1"), json.Number("-1"), json.Number("1.5"), json.Number("1.0"), json.Number("65536"),
	[]any{}, []any{"x"}, []any{json.Number("1")}, []any{"a", "a"},
	map[string]any{}, map[string]any{"x": "y"}, map[string]any{"enabled": true},
}

// schemaKeys are the property names the schema defines: a mutation that
// adds a key picks one of them (or an unknown one), so that conditional
// keywords (if/then, not, oneOf over required keys) are exercised.
func schemaKeys(t testing.TB) []string {
	sch, err := schemaRoot()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if props, ok := x["properties"].(map[string]any); ok {
				for k := range props {
					seen[k] = true
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(sch)
	keys := []string{"unknownKey"}
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// mutate returns a deep copy of v with the value at one random path
// replaced, or a key added, or a key removed.
func mutate(r *rand.Rand, pool []string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x)+1)
		keys := make([]string, 0, len(x))
		for k, e := range x {
			out[k] = e
			keys = append(keys, k)
		}
		sort.Strings(keys)
		switch n := r.IntN(10); {
		case n == 0 || len(keys) == 0:
			out[pool[r.IntN(len(pool))]] = replacements[r.IntN(len(replacements))]
		case n == 1:
			delete(out, keys[r.IntN(len(keys))])
		case n < 4:
			out[pool[r.IntN(len(pool))]] = replacements[r.IntN(len(replacements))]
		default:
			k := keys[r.IntN(len(keys))]
			out[k] = mutate(r, pool, x[k])
		}
		return out
	case []any:
		out := append([]any{}, x...)
		if len(out) == 0 || r.IntN(4) == 0 {
			return append(out, replacements[r.IntN(len(replacements))])
		}
		i := r.IntN(len(out))
		out[i] = mutate(r, pool, out[i])
		return out
	}
	return replacements[r.IntN(len(replacements))]
}

// TestValidatorAgreesWithOracle: on every lock-file document and on
// mutations of them (each document mutated up to three times over), the
// evaluator and the oracle agree on conforming or not, and name the same
// key paths.
func TestValidatorAgreesWithOracle(t *testing.T) {
	o := oracle(t)
	docs := lockFileDocs(t)
	keys := schemaKeys(t)
	r := rand.New(rand.NewPCG(1, 2))
	n, invalid := 0, 0
	check := func(name string, v any) {
		n++
		ok, want := oracleLocations(o, v)
		msgs := Validate(v)
		if ok != (len(msgs) == 0) {
			b, _ := json.Marshal(v)
			t.Fatalf("%s: oracle valid=%v, ours %q\n%s", name, ok, msgs, b)
		}
		if ok {
			return
		}
		invalid++
		if got := ourLocations(msgs); strings.Join(got, " ") != strings.Join(want, " ") {
			b, _ := json.Marshal(v)
			t.Fatalf("%s: key paths differ: oracle %v, ours %v (%q)\n%s", name, want, got, msgs, b)
		}
	}
	for i, d := range docs {
		check(fmt.Sprintf("doc %d", i), d)
	}
	// The schema's conditional rules, each side of them.
	for _, doc := range []string{
		`{"enclaves":[{"repos":[{"repo":"o/r","sensitivity":"public"}],"script":{},"agent":{}}]}`,
		`{"enclaves":[{"repos":[{"repo":"o/r","sensitivity":"public"}],"script":{}},{"repos":[{"repo":"o/s","sensitivity":"public"}],"script":{}}]}`,
		`{"enclaves":[{"repos":[{"repo":"o/r","sensitivity":"public"}],"script":{}},{"repos":[{"repo":"o/s","sensitivity":"public"}],"agent":{}}]}`,
		`{"container":{"images":{}},"security":{"sslBump":true}}`,
		`{"container":{"images":{}, "buildLocal":true}}`,
		`{"network":{"topologyAttach":[]}}`,
		`{"network":{"topologyAttach":[],"isolation":true}}`,
		`{"apiProxy":{"auth":{"type":"github-oidc","provider":"gcp"}}}`,
		`{"apiProxy":{"auth":{"type":"github-oidc","provider":"anthropic"}}}`,
		`{"apiProxy":{"auth":{"type":"github-oidc","provider":"azure"}}}`,
		`{"apiProxy":{"diagnostics":{"captureBlockedRequests":"full"}}}`,
		`{"apiProxy":{"diagnostics":{"captureBlockedRequests":"all"}}}`,
		`{"apiProxy":{"modelMultipliers":{"a":0,"b":0.5}}}`,
		`{"apiProxy":{"maxRuns":1e2}}`,
	} {
		v, err := parseJSON([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		check(doc, v)
	}
	for round := 0; round < 120; round++ {
		for i, d := range docs {
			var v any = d
			for k := 0; k <= r.IntN(3); k++ {
				v = mutate(r, keys, v)
			}
			check(fmt.Sprintf("round %d doc %d", round, i), v)
		}
	}
	if invalid < n/3 {
		t.Fatalf("only %d of %d mutated documents were invalid: the mutations do not exercise the schema", invalid, n)
	}
	t.Logf("%d documents, %d non-conforming: same verdict and key paths as the oracle", n, invalid)
}

// TestSchemaKeywordsKnown: every keyword the schema uses is one the
// evaluator implements (or an annotation), and every pattern compiles.
func TestSchemaKeywordsKnown(t *testing.T) {
	sch, err := schemaRoot()
	if err != nil {
		t.Fatal(err)
	}
	var walk func(s any, at string)
	walk = func(s any, at string) {
		m, ok := s.(map[string]any)
		if !ok {
			return
		}
		for k, v := range m {
			if !evaluated[k] {
				t.Errorf("%s: keyword %q is not evaluated by validate.go", at, k)
			}
			switch k {
			case "properties", "$defs":
				for name, sub := range v.(map[string]any) {
					walk(sub, at+"/"+k+"/"+name)
				}
			case "allOf", "anyOf", "oneOf":
				for i, sub := range v.([]any) {
					walk(sub, fmt.Sprintf("%s/%s/%d", at, k, i))
				}
			case "items", "not", "if", "then", "else", "contains", "additionalProperties":
				walk(v, at+"/"+k)
			case "pattern":
				if _, err := pattern(v.(string)); err != nil {
					t.Errorf("%s: pattern does not compile: %v", at, err)
				}
			}
		}
	}
	walk(sch, "#")
}

// The start-up cost the evaluator avoids: the oracle's compile (its
// package init, paid by every process that links it, compiles five
// drafts' metaschemas on top).
func BenchmarkOracleCompile(b *testing.B) {
	for i := 0; i < b.N; i++ {
		oracle(b)
	}
}

func BenchmarkValidate(b *testing.B) {
	docs := lockFileDocs(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if msgs := Validate(docs[i%len(docs)]); len(msgs) > 0 {
			b.Fatal(msgs)
		}
	}
}
