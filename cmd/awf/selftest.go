package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/awf-dev/awf/internal/sandbox/selftest"
)

func init() { subcommands = append(subcommands, newSelftestCmd) }

func newSelftestCmd() *cobra.Command {
	var verbose, inside bool
	cmd := &cobra.Command{
		Use:   "selftest",
		Short: "Check this host and run an offline sandboxed round trip (run this first: sudo awf selftest)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if inside {
				os.Exit(selftest.InsideMain(os.Stdout, verbose))
			}
			args := []string{"selftest", "--inside"}
			if verbose {
				args = append(args, "-v")
			}
			os.Exit(selftest.Run(os.Stdout, verbose, args))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show awf's log and the sandboxed command's output")
	cmd.Flags().BoolVar(&inside, "inside", false, "internal: the round trip, in a private network")
	cmd.Flags().MarkHidden("inside")
	return cmd
}
