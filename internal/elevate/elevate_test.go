package elevate

import (
	"reflect"
	"strings"
	"testing"
)

func TestBuild(t *testing.T) {
	p := Build("/usr/bin/sudo", "/opt/awf", []string{"--config", "-", "--", "echo hi"},
		[]string{"PATH=/home/runner/bin:/usr/bin", "ANTHROPIC_API_KEY=k", "TMPDIR=/home/runner/tmp", ElevatedVar + "=planted", ElevateEnvVar + "={}"})
	if want := []string{"/usr/bin/sudo", "-n", "-E", "--", "/opt/awf", "--config", "-", "--", "echo hi"}; !reflect.DeepEqual(p.Argv, want) {
		t.Errorf("argv %q", p.Argv)
	}
	want := []string{"PATH=/home/runner/bin:/usr/bin", "ANTHROPIC_API_KEY=k", "TMPDIR=/home/runner/tmp", ElevatedVar + "=1",
		ElevateEnvVar + `={"PATH":"/home/runner/bin:/usr/bin","TMPDIR":"/home/runner/tmp"}`}
	if !reflect.DeepEqual(p.Env, want) {
		t.Errorf("env %q", p.Env)
	}
}

func TestRestore(t *testing.T) {
	carried := `{"PATH":"/home/runner/bin:/usr/bin","TMPDIR":"/home/runner/tmp","LD_PRELOAD":"/evil.so"}`
	cases := []struct {
		name       string
		env        map[string]string
		euid       int
		wantPath   string
		wantTmp    string
		wantSelfTD string
	}{
		{"after sudo", map[string]string{ElevatedVar: "1", ElevateEnvVar: carried, "SUDO_UID": "1001", "PATH": "/usr/sbin:/usr/bin"}, 0,
			"/home/runner/bin:/usr/bin", "/home/runner/tmp", "/home/runner/tmp"},
		{"not root", map[string]string{ElevatedVar: "1", ElevateEnvVar: carried, "SUDO_UID": "1001", "PATH": "/usr/bin"}, 1001, "/usr/bin", "", ""},
		{"no sudo", map[string]string{ElevatedVar: "1", ElevateEnvVar: carried, "PATH": "/usr/bin"}, 0, "/usr/bin", "", ""},
		{"no marker", map[string]string{ElevateEnvVar: carried, "SUDO_UID": "1001", "PATH": "/usr/bin"}, 0, "/usr/bin", "", ""},
		{"garbage", map[string]string{ElevatedVar: "1", ElevateEnvVar: "{", "SUDO_UID": "1001", "PATH": "/usr/bin"}, 0, "/usr/bin", "", ""},
		{"empty path kept", map[string]string{ElevatedVar: "1", ElevateEnvVar: `{"PATH":""}`, "SUDO_UID": "1001", "PATH": "/usr/bin"}, 0, "/usr/bin", "", ""},
	}
	for _, tc := range cases {
		self := Restore(tc.env, tc.euid)
		if tc.env["PATH"] != tc.wantPath || tc.env["TMPDIR"] != tc.wantTmp || self["TMPDIR"] != tc.wantSelfTD {
			t.Errorf("%s: PATH %q TMPDIR %q self %v", tc.name, tc.env["PATH"], tc.env["TMPDIR"], self)
		}
		if _, ok := tc.env["LD_PRELOAD"]; ok {
			t.Errorf("%s: a loader variable was carried", tc.name)
		}
		if _, ok := tc.env[ElevatedVar]; ok {
			t.Errorf("%s: marker left for the command", tc.name)
		}
		if _, ok := tc.env[ElevateEnvVar]; ok {
			t.Errorf("%s: env marker left for the command", tc.name)
		}
	}
}

func TestExplainSaysWhatToDo(t *testing.T) {
	cases := []struct {
		name    string
		p       *Problem
		wantAll []string
	}{
		{"no sudo", Explain("runner", "/usr/local/bin/awf", false, "", false, 1001),
			[]string{"awf needs root", "sudo was not found", "apt-get install sudo", "runner ALL=(root) NOPASSWD:SETENV: /usr/local/bin/awf", "/etc/sudoers.d/awf"}},
		{"refused", Explain("runner", "/usr/local/bin/awf", true, "sudo: a password is required\n", false, 1001),
			[]string{"`sudo -n -E` was refused: sudo: a password is required", "sudo -E awf", "runner ALL=(root) NOPASSWD:SETENV: /usr/local/bin/awf"}},
		{"loop", Explain("runner", "/usr/local/bin/awf", true, "", true, 1001),
			[]string{"still runs as uid 1001", "root shell"}},
	}
	for _, tc := range cases {
		msg := tc.p.Error()
		for _, w := range tc.wantAll {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q lacks %q", tc.name, msg, w)
			}
		}
	}
}
