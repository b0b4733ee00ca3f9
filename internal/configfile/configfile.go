// Package configfile reads an awf configuration document (`awf --config
// <path|->`) as the original's spec (docs/awf-config-spec.md §2) says:
// JSON or YAML chosen by extension (otherwise JSON first, then YAML), "-"
// for standard input, validated against the published JSON Schema
// (closed world: unknown keys are refused), then mapped key by key onto the
// CLI flag with the same meaning (mapping.go). It returns plain data; the
// config package applies it to the flag set, so a key means exactly what
// its flag means.
package configfile

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// SchemaJSON is the published schema this build implements, verbatim.
//
//go:embed awf-config.schema.json
var SchemaJSON []byte

// SchemaOrigin says where SchemaJSON comes from: the original's
// docs/awf-config.schema.json at the commit that last changed it.
const (
	SchemaRepo   = "github/gh-aw-firewall"
	SchemaPath   = "docs/awf-config.schema.json"
	SchemaCommit = "a4b47f60ab831131b04b5813d2376fd923706102" // 2026-08-22, "Enforce filesystem allowWrite boundaries"
	// SchemaMirrorHead is the newest commit of the original read for this
	// implementation (the schema is unchanged there).
	SchemaMirrorHead = "f550957662089295dd144b0667414f5557b6a84b"
)

// Source is how Load reads: files (relative to Dir) and standard input.
type Source struct {
	ReadFile func(string) ([]byte, error)
	Stdin    io.Reader
	Dir      string // the working directory relative paths are read from
}

// Document is a parsed, schema-valid configuration document: JSON values
// (map[string]any, []any, string, bool, json.Number).
type Document map[string]any

// Load reads, parses and validates the document at path ("-" = stdin).
// Error texts are the original's: "Failed to parse AWF config from <where>:
// ..." and "Invalid AWF config at <where>:\n- <key path> ...".
func Load(path string, src Source) (Document, error) {
	var data []byte
	var label string
	var err error
	if path == "-" {
		label = "stdin"
		if src.Stdin == nil {
			return nil, errors.New("no standard input to read the configuration from")
		}
		data, err = io.ReadAll(io.LimitReader(src.Stdin, MaxSize+1))
	} else {
		label = path
		if !filepath.IsAbs(label) && src.Dir != "" {
			label = filepath.Join(src.Dir, label)
		}
		data, err = src.ReadFile(label)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("ENOENT: no such file or directory, open '%s'", label)
		}
		return nil, fmt.Errorf("Failed to read AWF config from %s: %v", label, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("Failed to read AWF config from %s: larger than %d bytes", label, MaxSize)
	}
	v, err := Parse(data, path)
	if err != nil {
		return nil, fmt.Errorf("Failed to parse AWF config from %s: %v", label, err)
	}
	if problems := Validate(v); len(problems) > 0 {
		msg := fmt.Sprintf("Invalid AWF config at %s:\n- %s", label, strings.Join(problems, "\n- "))
		if strings.Contains(msg, " is not supported") {
			// Newer gh-aw releases write keys of newer schemas: say which one this is.
			msg += fmt.Sprintf("\n(this awf implements %s %s at %.8s)", SchemaRepo, SchemaPath, SchemaCommit)
		}
		return nil, errors.New(msg)
	}
	return Document(v.(map[string]any)), nil
}

// MaxSize bounds a document (gh-aw's are under 20 KiB).
const MaxSize = 4 << 20

// Parse decodes data as the spec's step 2 says: ".json" is JSON, ".yaml"
// and ".yml" are YAML, anything else (stdin included) JSON first, then YAML.
func Parse(data []byte, path string) (any, error) {
	switch {
	case strings.HasSuffix(path, ".json"):
		return parseJSON(data)
	case strings.HasSuffix(path, ".yaml"), strings.HasSuffix(path, ".yml"):
		return parseYAML(data)
	}
	if v, err := parseJSON(data); err == nil {
		return v, nil
	}
	return parseYAML(data)
}

func parseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// parseYAML decodes one YAML document (YAML 1.2 rules: `yes` is a string)
// into the same value shapes JSON gives, so validation and mapping see one
// model. An empty document is nil, which validation refuses as the
// original does ("config root must be an object").
func parseYAML(data []byte) (any, error) {
	var v any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, err
	}
	var extra any
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, errors.New("expected a single YAML document")
	}
	return normalize(v)
}

// normalize turns YAML values into JSON values: keys become strings (as
// js-yaml makes them), numbers json.Number.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case int:
		return json.Number(fmt.Sprint(x)), nil
	case int64:
		return json.Number(fmt.Sprint(x)), nil
	case uint64:
		return json.Number(fmt.Sprint(x)), nil
	case float64:
		b, err := json.Marshal(x) // NaN and Inf are not JSON numbers
		if err != nil {
			return nil, fmt.Errorf("number %v is not representable in JSON", x)
		}
		return json.Number(b), nil
	case time.Time:
		// js-yaml also reads unquoted timestamps as dates, which no schema
		// key accepts; keep them as non-strings so validation refuses them.
		return map[string]any{"timestamp": x.Format(time.RFC3339)}, nil
	}
	return v, nil
}

// Validate checks v against the schema and returns one message per
// problem, each naming the key path as the original does
// ("config.apiProxy.hostedWeb is not supported"). Empty means conforming.
func Validate(v any) []string {
	if _, ok := v.(map[string]any); !ok {
		return []string{"config root must be an object"}
	}
	sch, err := schemaRoot()
	if err != nil {
		return []string{"the built-in schema does not load: " + err.Error()}
	}
	var out []string
	seen := map[string]bool{}
	for _, msg := range (validator{root: sch}).check(sch, v, nil) {
		if !seen[msg] {
			seen[msg] = true
			out = append(out, msg)
		}
	}
	sort.Strings(out)
	return out
}

// KeyPath renders an instance location as the original does: config.a.b.0.
func KeyPath(loc []string) string {
	if len(loc) == 0 {
		return "config"
	}
	return "config." + strings.Join(loc, ".")
}
