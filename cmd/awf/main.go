// Command awf runs an AI coding agent in a sandbox whose network egress is
// limited to an allowlist and which never holds a real LLM API key.
//
// This file is wiring only: each subcommand lives in its own file and
// registers itself in init, so parts can be added without touching the rest.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

// subcommands are registered by the files of this package.
var subcommands []func() *cobra.Command

// configureRoot gives the root command its own job, `awf [options] --
// <command...>` (set by run.go).
var configureRoot func(*cobra.Command)

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "awf [options] -- <command...>",
		Short:         "Agentic Workflow Firewall: run an agent behind a domain allowlist with no real API keys",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, f := range subcommands {
		root.AddCommand(f())
	}
	if configureRoot != nil {
		configureRoot(root)
	}
	return root
}

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(exitCode(err))
	}
}

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 1
}
