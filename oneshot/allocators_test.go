//go:build linux

package oneshot

import (
	"context"
	"debug/elf"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// hangLimit bounds every process these tests start: a preloaded library
// that deadlocks the allocator shows up as a timeout, not a stuck suite.
const hangLimit = 15 * time.Second

// allocators are the malloc implementations a preloaded library meets in
// practice. lib is the -l name ("" = glibc's own malloc); the package that
// provides it is what .ci/run installs.
var allocators = []struct {
	name, lib, pkg string
}{
	{"glibc", "", "libc6-dev"},
	{"jemalloc", "jemalloc", "libjemalloc-dev"},
	{"tcmalloc", "tcmalloc", "libgoogle-perftools-dev"},
	{"mimalloc", "mimalloc", "libmimalloc-dev"},
}

// buildVariant compiles testdata/probe.c with extra gcc arguments.
func buildVariant(t *testing.T, name string, extra ...string) (string, error) {
	t.Helper()
	build(t) // creates dir, skips without gcc
	out := filepath.Join(dir, "probe-"+name)
	args := append([]string{"-Wall", "-Werror", "-O1", "-o", out, "testdata/probe.c", "-pthread"}, extra...)
	if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		return "", errors.New(strings.TrimSpace(string(b)))
	}
	return out, nil
}

// needed lists an ELF file's DT_NEEDED entries.
func needed(t *testing.T, path string) []string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	return libs
}

// TestAllocators runs the probe linked against each allocator with the
// library preloaded. Before the fix, jemalloc programs hung at start: the
// library's constructor/first getenv called dlsym and malloc while jemalloc
// was initialising (and reading MALLOC_CONF through getenv).
func TestAllocators(t *testing.T) {
	lib, _ := build(t)
	for _, a := range allocators {
		t.Run(a.name, func(t *testing.T) {
			var extra []string
			if a.lib != "" {
				// --no-as-needed: the probe calls no allocator-specific
				// function, and the link must keep the library anyway.
				extra = []string{"-Wl,--no-as-needed", "-l" + a.lib}
			}
			probe, err := buildVariant(t, a.name, extra...)
			if err != nil {
				t.Skipf("cannot link against %s (install %s): %v", a.name, a.pkg, err)
			}
			if a.lib != "" && !slices.ContainsFunc(needed(t, probe), func(s string) bool { return strings.HasPrefix(s, "lib"+a.lib+".so") }) {
				t.Fatalf("probe does not load lib%s: %v", a.lib, needed(t, probe))
			}
			// MALLOC_CONF / MIMALLOC_VERBOSE make the allocators read their
			// configuration through getenv during their own initialisation.
			env := []string{"GITHUB_TOKEN=ghs_alloc_" + a.name, "AWF_ONE_SHOT_TOKENS=GITHUB_TOKEN,MY_TOKEN",
				"MY_TOKEN=" + strings.Repeat("v", 20000), "MALLOC_CONF=narenas:2", "MIMALLOC_VERBOSE=0",
				"PROBE_THREADS_NAME=MY_TOKEN"}
			facts, _ := run(t, lib, probe, env, "GITHUB_TOKEN")
			expect(t, facts, protected("GITHUB_TOKEN", "ghs_alloc_"+a.name))
			expect(t, facts, map[string]string{"threads.same": "1", "threads.value": strings.Repeat("v", 20000)})
		})
	}
}

// TestStaticBinary: a static program ignores LD_PRELOAD, so it must start
// and run normally (the library simply does not apply to it).
func TestStaticBinary(t *testing.T) {
	lib, _ := build(t)
	probe, err := buildVariant(t, "static", "-static")
	if err != nil {
		t.Skipf("cannot link statically (install libc6-dev): %v", err)
	}
	if libs := needed(t, probe); len(libs) != 0 {
		t.Fatalf("probe is not static: %v", libs)
	}
	facts, _ := run(t, lib, probe, []string{"GITHUB_TOKEN=ghs_static"}, "GITHUB_TOKEN")
	expect(t, facts, map[string]string{"GITHUB_TOKEN.first": "ghs_static", "GITHUB_TOKEN.in_environ": "1"})
}

// TestRealJemallocProgram runs dig (bind9, linked with jemalloc), the
// program the hang was found with.
func TestRealJemallocProgram(t *testing.T) {
	lib, _ := build(t)
	dig, err := exec.LookPath("dig")
	if err != nil {
		t.Skip("dig not installed (apt-get install bind9-dnsutils)")
	}
	if !slices.ContainsFunc(needed(t, dig), func(s string) bool { return strings.HasPrefix(s, "libjemalloc") }) {
		t.Logf("note: %s is not linked with jemalloc here", dig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, dig, "-v")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LD_PRELOAD=" + lib, "GITHUB_TOKEN=ghs_dig"}
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("dig -v hung with the library preloaded (killed after %v)", hangLimit)
	}
	if err != nil || !strings.Contains(string(out), "DiG") {
		t.Fatalf("dig -v: %v\n%s", err, out)
	}
}

// safeImports are the only functions the library may call: none of them
// allocates, takes the loader lock or reads configuration through getenv,
// so the library is safe to run while the process's allocator initialises.
// malloc, strdup, dlsym/dlerror, pthread_once, stdio and strto* are absent
// on purpose (each was, or could be, a path back into the allocator).
var safeImports = []string{
	"__cxa_finalize", "__environ", "environ", "__errno_location", "close", "getauxval", "memcpy",
	"memset", "mmap", "open", "pthread_mutex_lock", "pthread_mutex_unlock", "read", "strcmp",
	"strlen", "strncmp", "strnlen", "strrchr", "unsetenv", "write",
	"_ITM_deregisterTMCloneTable", "_ITM_registerTMCloneTable", "__gmon_start__",
}

// TestNoAllocatorPaths checks the built library's imports against
// safeImports and that it has no thread-local storage (a loaded library's
// TLS block can be allocated lazily with malloc).
func TestNoAllocatorPaths(t *testing.T) {
	lib, _ := build(t)
	f, err := elf.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF && s.Name != "" && !slices.Contains(safeImports, s.Name) {
			t.Errorf("the library imports %s, which may allocate or re-enter the allocator", s.Name)
		}
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_TLS {
			t.Error("the library has thread-local storage")
		}
	}
}
