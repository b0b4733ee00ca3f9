package diagnostics

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	var lines []string
	for i := 1; i <= 250; i++ {
		lines = append(lines, fmt.Sprint(i))
	}
	data := []byte(strings.Join(lines, "\n") + "\n")
	got := strings.Split(strings.TrimSuffix(string(Tail(data, 200)), "\n"), "\n")
	if len(got) != 200 || got[0] != "51" || got[199] != "250" {
		t.Fatalf("Tail: %d lines, %q..%q", len(got), got[0], got[len(got)-1])
	}
	if string(Tail([]byte("a\nb"), 5)) != "a\nb\n" {
		t.Errorf("short: %q", Tail([]byte("a\nb"), 5))
	}
}

func TestCollect(t *testing.T) {
	tmp := t.TempDir()
	eg := filepath.Join(tmp, "access.log")
	os.WriteFile(eg, []byte("line1\nline2\n"), 0o600)
	dir, err := Collect(Input{Dir: filepath.Join(tmp, "audit", "diagnostics"), ExitCode: 3, Err: errors.New("boom"),
		EgressLog: eg, APIProxyLog: filepath.Join(tmp, "missing.log"), Config: map[string]any{"command": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.ReadFile(filepath.Join(dir, Files.State))
	if string(st) != "3 boom\n" {
		t.Errorf("state %q", st)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, Files.Egress)); string(b) != "line1\nline2\n" {
		t.Errorf("egress tail %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, Files.APIProxy)); err == nil {
		t.Error("a missing log must be skipped")
	}
	var cfg map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, Files.Config))
	if json.Unmarshal(b, &cfg) != nil || cfg["command"] != "x" {
		t.Errorf("config %s", b)
	}
}
