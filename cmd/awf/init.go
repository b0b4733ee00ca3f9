package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/awf-dev/awf/internal/helpers"
	"github.com/awf-dev/awf/internal/sandbox/native"
)

// The sandbox's PID 1 is awf itself, re-executed by the native runtime.
// It is dispatched here, before cobra and the rest of main, to keep the
// start-up path short.
func init() {
	native.Preflight = helpers.Check
	if len(os.Args) > 1 && os.Args[1] == native.InitArg {
		native.InitMain()
	}
	subcommands = append(subcommands, newInitCmd)
}

func newInitCmd() *cobra.Command {
	return &cobra.Command{
		Use:    native.InitArg,
		Short:  "internal: the sandbox's PID 1",
		Hidden: true,
		Run:    func(*cobra.Command, []string) { native.InitMain() },
	}
}
