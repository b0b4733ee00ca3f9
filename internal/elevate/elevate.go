// Package elevate lets `awf ...` be run as an ordinary user, as gh-aw
// v0.28 does on GitHub-hosted runners (passwordless sudo): awf needs root
// for namespaces, nftables and cgroups, so when it is not root it
// re-executes itself through non-interactive sudo, keeping the environment
// (the API keys the api-proxy needs, GITHUB_*, the step's variables) and
// the invoking identity (sudo sets SUDO_UID/SUDO_GID/SUDO_USER, from which
// the command's user, its home and tool dirs are resolved).
//
// Two things survive -E only with help: sudo's secure_path replaces PATH,
// and the dynamic loader removes TMPDIR and a few resolver/locale
// variables from every setuid program's environment before sudo even
// starts. awf passes their values in ElevateEnvVar and the elevated awf
// puts them back before anything reads the environment: the command finds
// the same tools and temp dir as under `sudo -E awf` on a runner whose sudo
// keeps them. Where sudo is missing or refuses, awf says exactly what to
// run instead.
//
// Plan and Restore are pure; Exec is the one call that touches the system.
package elevate

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strings"
	"syscall"
)

// Marker variables of a re-executed awf.
const (
	// ElevatedVar marks the process sudo started, so a sudo that does not
	// make awf root cannot loop.
	ElevatedVar = "AWF_ELEVATED"
	// ElevateEnvVar carries the Carried variables across sudo (JSON object).
	ElevateEnvVar = "AWF_ELEVATE_ENV"
)

// Carried are the variables sudo -E cannot keep: PATH (secure_path) and
// those glibc drops for setuid programs (its UNSECURE_ENVVARS that are not
// loader or allocator controls, which awf never forwards into its own
// process).
var Carried = []string{"PATH", "TMPDIR", "TZDIR", "NLSPATH", "LOCPATH", "LOCALDOMAIN", "RES_OPTIONS", "HOSTALIASES"}

// ProcessEnv are the Carried variables the elevated awf also sets for
// itself: TMPDIR decides where its work dir and preserved logs go.
var ProcessEnv = []string{"TMPDIR"}

// SudoFlags: non-interactive (never prompt: a CI step has no one to
// answer), keep the environment.
var SudoFlags = []string{"-n", "-E"}

// Plan is the re-execution: argv for sudo and the environment to give it.
type Plan struct {
	Sudo string
	Argv []string
	Env  []string
}

// Build computes the re-execution of self with args through sudo.
func Build(sudo, self string, args []string, environ []string) Plan {
	argv := append([]string{sudo}, SudoFlags...)
	argv = append(append(argv, "--", self), args...)
	env := make([]string, 0, len(environ)+2)
	carried := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if k == ElevatedVar || k == ElevateEnvVar {
			continue
		}
		if slices.Contains(Carried, k) {
			carried[k] = v
		}
		env = append(env, kv)
	}
	b, _ := json.Marshal(carried) // a map of strings always encodes
	env = append(env, ElevatedVar+"=1", ElevateEnvVar+"="+string(b))
	return Plan{Sudo: sudo, Argv: argv, Env: env}
}

// Restore undoes what sudo changed, in the elevated awf's environment map
// (what the config and the command's environment are built from): the
// Carried variables come back from ElevateEnvVar. It acts only when this
// process is root, was started by sudo (SUDO_UID) and carries the marker;
// the markers are removed in every case so they never reach the command.
// It returns the restored variables that are in ProcessEnv, for the caller
// to set in its own process.
func Restore(env map[string]string, euid int) map[string]string {
	marked := env[ElevatedVar] == "1"
	raw := env[ElevateEnvVar]
	delete(env, ElevatedVar)
	delete(env, ElevateEnvVar)
	if !marked || euid != 0 || env["SUDO_UID"] == "" || raw == "" {
		return nil
	}
	var carried map[string]string
	if json.Unmarshal([]byte(raw), &carried) != nil {
		return nil
	}
	self := map[string]string{}
	for _, k := range Carried {
		v, ok := carried[k]
		if !ok || (k == "PATH" && v == "") {
			continue
		}
		env[k] = v
		if slices.Contains(ProcessEnv, k) {
			self[k] = v
		}
	}
	return self
}

// Problem explains why awf could not make itself root, and what to do.
type Problem struct {
	Reason string
	Fix    string
}

func (p *Problem) Error() string { return p.Reason + "\n" + p.Fix }

// needRoot is the first sentence of every explanation.
const needRoot = "awf needs root for network namespaces, nftables and cgroups"

// Explain builds the message for a failure to elevate. user is the
// caller's name (or uid), self the awf binary, sudoErr what sudo printed
// ("" if sudo is absent), looped whether this process already came back
// from sudo without being root.
func Explain(user, self string, sudoFound bool, sudoErr string, looped bool, euid int) *Problem {
	rule := fmt.Sprintf("%s ALL=(root) NOPASSWD:SETENV: %s", user, self)
	install := fmt.Sprintf("give %s passwordless sudo for awf (SETENV keeps the API keys and GITHUB_* variables awf needs), as root:\n  echo '%s' > /etc/sudoers.d/awf && chmod 0440 /etc/sudoers.d/awf", user, rule)
	switch {
	case looped:
		return &Problem{
			Reason: fmt.Sprintf("%s; awf re-executed itself through sudo but still runs as uid %d.", needRoot, euid),
			Fix:    "Check that sudo runs commands as root for this user (no runas_default or targetpw override), or run awf from a root shell.",
		}
	case !sudoFound:
		return &Problem{
			Reason: needRoot + ", and sudo was not found in PATH to re-run it as root.",
			Fix:    "Run awf as root (from a root shell, or `su -c 'awf ...'`), or install sudo (apt-get install sudo) and " + install,
		}
	default:
		msg := strings.TrimSpace(sudoErr)
		if msg == "" {
			msg = "no reason given"
		}
		return &Problem{
			Reason: fmt.Sprintf("%s; re-running it as root with `sudo %s` was refused: %s", needRoot, strings.Join(SudoFlags, " "), msg),
			Fix:    "Run `sudo -E awf ...` yourself (entering a password), or " + install,
		}
	}
}

// Exec re-executes awf as root through sudo. It returns only on failure,
// with a *Problem that says what to do. It first asks sudo, without a
// prompt, to run `awf --version`: the only way to tell "sudo refused"
// (which awf must explain) from the command's own exit status.
func Exec(args []string) error {
	euid := os.Geteuid()
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("%s: cannot find the awf binary to re-run: %w", needRoot, err)
	}
	user := currentUser()
	if os.Getenv(ElevatedVar) == "1" {
		return Explain(user, self, true, "", true, euid)
	}
	sudo, err := exec.LookPath("sudo")
	if err != nil {
		return Explain(user, self, false, "", false, euid)
	}
	check := exec.Command(sudo, append(append(append([]string(nil), SudoFlags...), "--", self), "--version")...)
	var stderr strings.Builder
	check.Stdin, check.Stdout, check.Stderr = nil, nil, &stderr
	if err := check.Run(); err != nil {
		msg := stderr.String()
		if msg == "" {
			msg = err.Error()
		}
		return Explain(user, self, true, msg, false, euid)
	}
	p := Build(sudo, self, args, os.Environ())
	return syscall.Exec(p.Sudo, p.Argv, p.Env)
}

// currentUser is the caller as sudoers names it: the login name, or #uid.
func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" && !strings.ContainsAny(u.Username, " \t'\"\\") {
		return u.Username
	}
	return fmt.Sprintf("#%d", os.Getuid())
}
