//go:build linux

package oneshot

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// defaultNames must match the obfuscated defaults in one-shot-token.c.
var defaultNames = []string{
	"COPILOT_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "GITHUB_API_TOKEN", "GITHUB_PAT",
	"GH_ACCESS_TOKEN", "OPENAI_API_KEY", "OPENAI_KEY", "ANTHROPIC_API_KEY", "CLAUDE_API_KEY",
	"CODEX_API_KEY", "COPILOT_API_KEY", "COPILOT_PROVIDER_API_KEY",
}

var (
	buildOnce                 sync.Once
	builtLib, builtProbe, dir string
	buildErr                  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// build compiles, once per run, the library exactly as the Makefile does
// and the probe.
func build(t *testing.T) (lib, probe string) {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	buildOnce.Do(func() { builtLib, builtProbe, buildErr = compile(gcc) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtLib, builtProbe
}

func compile(gcc string) (lib, probe string, err error) {
	if dir, err = os.MkdirTemp("", "oneshot-test"); err != nil {
		return "", "", err
	}
	lib = filepath.Join(dir, "one-shot-token.so")
	probe = filepath.Join(dir, "probe")
	for _, args := range [][]string{
		{"-shared", "-fPIC", "-fvisibility=hidden", "-O2", "-s", "-Wl,--version-script=one-shot-token.sym", "-o", lib, "csrc/one-shot-token.c", "-pthread"},
		{"-O1", "-o", probe, "testdata/probe.c", "-pthread"},
	} {
		if out, err := exec.Command(gcc, append([]string{"-Wall", "-Werror"}, args...)...).CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("gcc %v: %v\n%s", args, err, out)
		}
	}
	return lib, probe, nil
}

// run starts the probe with exactly env (plus LD_PRELOAD) and parses its facts.
func run(t *testing.T, lib, probe string, env []string, args ...string) (map[string]string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, probe, args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "LD_PRELOAD=" + lib}, env...)
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		t.Fatalf("probe hung (killed after %v)\n%s", hangLimit, stderr.String())
	}
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, stderr.String())
	}
	facts := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			facts[k] = v
		}
	}
	return facts, stderr.String()
}

func expect(t *testing.T, facts map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if facts[k] != v {
			t.Errorf("%s = %q, want %q", k, facts[k], v)
		}
	}
}

// protected: read twice gives the value, then it is gone everywhere.
func protected(name, value string) map[string]string {
	return map[string]string{
		name + ".first": value, name + ".second": value, name + ".same_pointer": "1",
		name + ".in_environ": "0", name + ".proc_name_before": "1", name + ".proc_name_after": "0",
		name + ".proc_value_after": "0", name + ".child": "0",
	}
}

// untouched: the variable behaves as without the library.
func untouched(name, value string) map[string]string {
	return map[string]string{
		name + ".first": value, name + ".second": value, name + ".in_environ": "1",
		name + ".proc_name_after": "1", name + ".child": "1",
	}
}

func TestOneShot(t *testing.T) {
	lib, probe := build(t)
	merge := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	cases := []struct {
		name string
		env  []string
		args []string
		want map[string]string
	}{
		{"listed and unlisted",
			[]string{"AWF_ONE_SHOT_TOKENS= MY_TOKEN ,,OTHER_TOKEN ", "MY_TOKEN=s3cret-value-1", "UNLISTED=keep-me"},
			[]string{"MY_TOKEN", "UNLISTED"},
			merge(protected("MY_TOKEN", "s3cret-value-1"), untouched("UNLISTED", "keep-me"))},
		{"defaults when unset",
			[]string{"GITHUB_TOKEN=ghs_default_protected", "COPILOT_PROVIDER_API_KEY=placeholder-x", "PLAIN=1"},
			[]string{"GITHUB_TOKEN", "COPILOT_PROVIDER_API_KEY", "PLAIN"},
			merge(protected("GITHUB_TOKEN", "ghs_default_protected"), protected("COPILOT_PROVIDER_API_KEY", "placeholder-x"), untouched("PLAIN", "1"))},
		{"defaults when empty",
			[]string{"AWF_ONE_SHOT_TOKENS= , ", "GH_TOKEN=gho_x"},
			[]string{"GH_TOKEN"},
			protected("GH_TOKEN", "gho_x")},
		{"explicit list replaces defaults",
			[]string{"AWF_ONE_SHOT_TOKENS=MY_TOKEN", "GITHUB_TOKEN=ghs_visible"},
			[]string{"GITHUB_TOKEN"},
			untouched("GITHUB_TOKEN", "ghs_visible")},
		{"listed but unset",
			[]string{"AWF_ONE_SHOT_TOKENS=MISSING"},
			[]string{"MISSING"},
			map[string]string{"MISSING.first": "(null)", "MISSING.second": "(null)"}},
		{"secure_getenv",
			[]string{"AWF_ONE_SHOT_TOKENS=MY_TOKEN", "MY_TOKEN=via-secure-getenv"},
			[]string{"-s", "MY_TOKEN"},
			protected("MY_TOKEN", "via-secure-getenv")},
		{"control variables are never taken",
			[]string{"AWF_ONE_SHOT_TOKENS=AWF_ONE_SHOT_TOKENS,AWF_ONE_SHOT_TOKEN_DEBUG", "AWF_ONE_SHOT_TOKEN_DEBUG=0"},
			[]string{"AWF_ONE_SHOT_TOKENS", "AWF_ONE_SHOT_TOKEN_DEBUG"},
			merge(untouched("AWF_ONE_SHOT_TOKENS", "AWF_ONE_SHOT_TOKENS,AWF_ONE_SHOT_TOKEN_DEBUG"), untouched("AWF_ONE_SHOT_TOKEN_DEBUG", "0"))},
		{"set by the program itself",
			[]string{"AWF_ONE_SHOT_TOKENS=MY_TOKEN,FRESH", "MY_TOKEN=from-kernel", "KEEP=1"},
			[]string{"-p", "MY_TOKEN=overridden-value", "-p", "FRESH=heap-value", "MY_TOKEN", "FRESH", "KEEP"},
			merge(map[string]string{
				"MY_TOKEN.first": "overridden-value", "MY_TOKEN.second": "overridden-value", "MY_TOKEN.in_environ": "0", "MY_TOKEN.child": "0",
				"MY_TOKEN.proc_name_before": "1", "MY_TOKEN.proc_name_after": "0",
				"FRESH.first": "heap-value", "FRESH.second": "heap-value", "FRESH.in_environ": "0", "FRESH.child": "0",
			}, untouched("KEEP", "1"))},
		{"threads race on the first read",
			[]string{"AWF_ONE_SHOT_TOKENS=RACE", "RACE=race-value", "PROBE_THREADS_NAME=RACE"},
			nil,
			map[string]string{"threads.same": "1", "threads.value": "race-value"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			facts, _ := run(t, lib, probe, tc.env, tc.args...)
			expect(t, facts, tc.want)
		})
	}
}

func TestDebugNeverPrintsValues(t *testing.T) {
	lib, probe := build(t)
	_, stderr := run(t, lib, probe, []string{"AWF_ONE_SHOT_TOKENS=MY_TOKEN", "MY_TOKEN=do-not-print-me", "AWF_ONE_SHOT_TOKEN_DEBUG=true"}, "MY_TOKEN")
	if !strings.Contains(stderr, "[one-shot-token] MY_TOKEN: read once") {
		t.Errorf("no debug line:\n%s", stderr)
	}
	if strings.Contains(stderr, "do-not-print-me") {
		t.Errorf("debug output leaks the value:\n%s", stderr)
	}
	_, quiet := run(t, lib, probe, []string{"AWF_ONE_SHOT_TOKENS=MY_TOKEN", "MY_TOKEN=v"}, "MY_TOKEN")
	if quiet != "" {
		t.Errorf("output without debug: %q", quiet)
	}
}

// TestLibraryShape checks the built file: only getenv and secure_getenv are
// exported, and the default names do not appear in it.
func TestLibraryShape(t *testing.T) {
	lib, _ := build(t)
	libs := map[string]string{"built": lib}
	if len(Library) > 0 {
		p := filepath.Join(t.TempDir(), InstallName)
		if err := os.WriteFile(p, Library, 0o644); err != nil {
			t.Fatal(err)
		}
		libs["embedded"] = p
	}
	for which, path := range libs {
		f, err := elf.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", which, err)
		}
		syms, err := f.DynamicSymbols()
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", which, err)
		}
		var exported []string
		for _, s := range syms {
			if s.Section != elf.SHN_UNDEF && elf.ST_BIND(s.Info) != elf.STB_LOCAL && elf.ST_TYPE(s.Info) == elf.STT_FUNC {
				exported = append(exported, s.Name)
			}
		}
		slices.Sort(exported)
		if strings.Join(exported, ",") != "getenv,secure_getenv" {
			t.Errorf("%s exports %v", which, exported)
		}
		data, _ := os.ReadFile(path)
		for _, n := range defaultNames {
			if bytes.Contains(data, []byte(n)) {
				t.Errorf("%s contains %q in clear", which, n)
			}
		}
	}
}

// TestEmbeddedLibraryWorks runs the probe against the embedded copy, so a
// stale or broken build is caught.
func TestEmbeddedLibraryWorks(t *testing.T) {
	if len(Library) == 0 {
		t.Skip("one-shot-token.so not built; run make -C oneshot")
	}
	_, probe := build(t)
	lib := filepath.Join(t.TempDir(), InstallName)
	if err := os.WriteFile(lib, Library, 0o755); err != nil {
		t.Fatal(err)
	}
	facts, _ := run(t, lib, probe, []string{"GITHUB_TOKEN=ghs_embedded"}, "GITHUB_TOKEN")
	expect(t, facts, protected("GITHUB_TOKEN", "ghs_embedded"))
	if len(Source) == 0 {
		t.Error("Source not embedded")
	}
}

// TestNode: Node (Claude Code, Codex, Copilot CLI) reads process.env.X
// through getenv, so the token vanishes from its environ, its
// /proc/self/environ and its children while the program still reads it.
func TestNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	lib, _ := build(t)
	script := `const fs = require("fs");
const a = process.env.GITHUB_TOKEN, b = process.env.GITHUB_TOKEN;
console.log(JSON.stringify({a, b,
  keys: Object.keys(process.env).includes("GITHUB_TOKEN"),
  proc: fs.readFileSync("/proc/self/environ").includes("ghs_node_secret"),
  child: require("child_process").execSync("env").toString().includes("ghs_node_secret")}));`
	cmd := exec.Command(node, "-e", script)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LD_PRELOAD=" + lib, "GITHUB_TOKEN=ghs_node_secret"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	want := `{"a":"ghs_node_secret","b":"ghs_node_secret","keys":false,"proc":false,"child":false}`
	if strings.TrimSpace(string(out)) != want {
		t.Errorf("node saw %s, want %s", out, want)
	}
}
