package domains

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
)

// OriginalCase is one input of the original's domain-pattern tests and
// whether its validator accepts it (testdata/original-validator-cases.jsonl;
// internal/config reads the same file).
type originalCase struct {
	Input    *string  `json:"input"`
	List     []string `json:"list"`
	Accepted bool     `json:"accepted"`
	Source   string   `json:"source"`
}

func loadOriginalCases(t *testing.T) []originalCase {
	t.Helper()
	f, err := os.Open("testdata/original-validator-cases.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []originalCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c originalCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		if c.Input == nil && c.List == nil {
			continue // the comment line
		}
		out = append(out, c)
	}
	if len(out) < 50 {
		t.Fatalf("only %d cases", len(out))
	}
	return out
}

// Accepted by the original => the allowlist and the blocklist load here;
// rejected by the original => rejected here too, with the original's
// message family.
func TestOriginalValidatorCases(t *testing.T) {
	for _, c := range loadOriginalCases(t) {
		list := c.List
		if c.Input != nil {
			list = []string{*c.Input}
		}
		_, aerr := Compile(list, nil)
		_, berr := Compile(nil, list)
		if c.Accepted && (aerr != nil || berr != nil) {
			t.Errorf("%q (%s): the original accepts it, awf refuses to start: allow %v, block %v", list, c.Source, aerr, berr)
		}
		if !c.Accepted && (aerr == nil || berr == nil) {
			t.Errorf("%q (%s): the original rejects it, awf loads it: allow %v, block %v", list, c.Source, aerr, berr)
		}
	}
}
