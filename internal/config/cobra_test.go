package config

import (
	"testing"

	"github.com/spf13/cobra"
)

// TestCobraWiring is the wiring cmd/awf is expected to use: the main
// command's flags on the root, flag parsing stopping at the first command
// word, the words after it handed to Build.
func TestCobraWiring(t *testing.T) {
	cases := []struct {
		argv []string
		want string
	}{
		{[]string{"-d", "github.com", "--", "curl", "-v", "https://github.com"}, "curl -v https://github.com"},
		{[]string{"-d", "github.com", "curl", "-v", "https://github.com"}, "curl -v https://github.com"},
		{[]string{"--", "echo $HOME"}, "echo $HOME"},
	}
	for _, tc := range cases {
		var got *Config
		root := &cobra.Command{Use: "awf", SilenceUsage: true, SilenceErrors: true, Args: cobra.ArbitraryArgs}
		root.Flags().SetInterspersed(false)
		flags := Register(root.Flags())
		flags.Sys = fakeSys(4242, nil)
		root.RunE = func(cmd *cobra.Command, args []string) error {
			c, _, err := flags.Build(args, Environ([]string{"HOME=/home/runner", "HOME=/dup", "X"}))
			got = c
			return err
		}
		root.AddCommand(&cobra.Command{Use: "logs", Run: func(*cobra.Command, []string) {}})
		root.SetArgs(tc.argv)
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v", tc.argv, err)
		}
		if got.Command != tc.want {
			t.Errorf("%v: Command = %q, want %q", tc.argv, got.Command, tc.want)
		}
		if got.User.Home != "/home/runner" {
			t.Errorf("Environ: home %q", got.User.Home)
		}
	}
}
