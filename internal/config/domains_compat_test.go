package config

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/domains"
)

// The original's own validator test inputs (internal/domains/testdata):
// every one it accepts starts a run here, as an allowlist and as a
// blocklist, and the runner's policy compiles from the result.
func TestOriginalValidatorCasesStartARun(t *testing.T) {
	f, err := os.Open("../domains/testdata/original-validator-cases.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c struct {
			Input    *string  `json:"input"`
			List     []string `json:"list"`
			Accepted bool     `json:"accepted"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		if c.Input != nil {
			c.List = []string{*c.Input}
		}
		if c.List == nil || !c.Accepted {
			continue
		}
		n++
		v := strings.Join(c.List, ",")
		for _, flag := range []string{"--allow-domains", "--block-domains"} {
			cfg, _, err := build(t, []string{flag, v, "--", "true"}, nil)
			if err != nil {
				t.Errorf("%s %q: the original accepts it, awf does not start: %v", flag, v, err)
				continue
			}
			if _, err := domains.Compile(cfg.AllowDomains, cfg.BlockDomains); err != nil {
				t.Errorf("%s %q: the policy does not compile: %v", flag, v, err)
			}
		}
	}
	if n < 30 {
		t.Fatalf("only %d accepted cases", n)
	}
}

// The rows of issue 12 start a run; the entries not honoured are each
// warned about once, at warn level (shown at the default log level).
func TestIgnoredEntriesWarnOnceAndRun(t *testing.T) {
	allow := "my_host.test,*.u_w.test,static.tail*,wtld.*,*.tw.test*,*wild4.test,203.0.113.*,*.100.9,*wild4.test"
	block := "tracker.we*,c.multi.*"
	cfg, warns, err := build(t, []string{"-d", allow, "--block-domains", block, "--", "true"}, nil)
	if err != nil {
		t.Fatalf("awf refuses to start: %v", err)
	}
	if len(cfg.BlockDomains) != 2 {
		t.Errorf("BlockDomains = %q", cfg.BlockDomains)
	}
	count := map[string]int{}
	for _, w := range warns {
		if strings.HasPrefix(w.Msg, "Ignoring allowed domain") {
			if w.Level != slog.LevelWarn {
				t.Errorf("%q at level %v, want warn", w.Msg, w.Level)
			}
			count[w.Msg[len("Ignoring allowed domain '"):strings.Index(w.Msg, "':")]]++
		}
	}
	for _, e := range []string{"static.tail*", "wtld.*", "*.tw.test*", "*wild4.test", "203.0.113.*", "*.100.9"} {
		if count[e] != 1 {
			t.Errorf("%q warned %d times, want once (warnings: %v)", e, count[e], count)
		}
	}
	if len(count) != 6 {
		t.Errorf("warned about %v, want exactly the 6 entries not honoured", count)
	}
	var wild string
	for _, w := range warns {
		if strings.Contains(w.Msg, "'*wild4.test'") {
			wild = w.Msg
		}
	}
	if !strings.Contains(wild, "use wild4.test,*.wild4.test instead") {
		t.Errorf("warning for *wild4.test = %q, want the safe spelling", wild)
	}
}
