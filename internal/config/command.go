package config

import (
	"regexp"
	"strings"
)

var bareArg = regexp.MustCompile(`^[A-Za-z0-9_\-./=:]+$`)

// ShellEscape quotes one argument for /bin/bash: left bare when it is made
// only of [A-Za-z0-9_-./=:], else single-quoted with ' written as '\”.
func ShellEscape(arg string) string {
	if bareArg.MatchString(arg) {
		return arg
	}
	return "'" + strings.ReplaceAll(arg, "'", `'\''`) + "'"
}

// JoinCommand turns the words after `--` into the shell string the sandbox
// runs. One word is taken verbatim, so `awf -- 'echo $HOME'` expands $HOME
// inside the sandbox; several words were already split by the user's shell
// and are quoted back so they reach the command unchanged.
func JoinCommand(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = ShellEscape(a)
	}
	return strings.Join(q, " ")
}
