package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/awf-dev/awf/internal/logs"
	"github.com/spf13/cobra"
)

func init() { subcommands = append(subcommands, newLogsCmd) }

func logsEnv() logs.Env {
	return logs.Env{
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		StdoutTTY: logs.IsTerminal(os.Stdout) && os.Getenv("NO_COLOR") == "",
		Discovery: logs.DiscoveryFromEnv(),
	}
}

func signalContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}

func newLogsCmd() *cobra.Command {
	var o logs.LogsOptions
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "View and analyze egress proxy logs from current or previous runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext(cmd)
			defer stop()
			return logs.RunLogs(ctx, logsEnv(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Follow, "follow", "f", false, "Follow log output in real-time (like tail -f)")
	f.StringVar(&o.Format, "format", logs.FormatPretty, "Output format: raw (as-is), pretty (colorized), json (structured)")
	f.StringVar(&o.Source, "source", "", `Path to log directory or file, or "running" for a live run`)
	f.BoolVar(&o.List, "list", false, "List available log sources")
	f.BoolVar(&o.WithPid, "with-pid", false, "Enrich logs with PID/process info (real-time only, requires -f)")
	cmd.AddCommand(newLogsStatsCmd(false), newLogsStatsCmd(true), newLogsAuditCmd())
	return cmd
}

func newLogsStatsCmd(summary bool) *cobra.Command {
	o := logs.StatsOptions{Summary: summary}
	use, short, def := "stats", "Show aggregated statistics from firewall logs", logs.FormatPretty
	if summary {
		use, short, def = "summary", "Generate summary report (defaults to markdown for GitHub Actions)", logs.FormatMarkdown
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return logs.RunStats(cmd.Context(), logsEnv(), o)
		},
	}
	cmd.Flags().StringVar(&o.Format, "format", def, "Output format: json, markdown, pretty")
	cmd.Flags().StringVar(&o.Source, "source", "", `Path to log directory or file, or "running" for a live run`)
	return cmd
}

func newLogsAuditCmd() *cobra.Command {
	var o logs.AuditOptions
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show firewall audit with policy rule matching (requires policy-manifest.json)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return logs.RunAudit(cmd.Context(), logsEnv(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Format, "format", logs.FormatPretty, "Output format: json, markdown, pretty")
	f.StringVar(&o.Source, "source", "", `Path to log directory or file, or "running" for a live run`)
	f.StringVar(&o.Filter.Rule, "rule", "", "Filter to specific rule ID")
	f.StringVar(&o.Filter.Domain, "domain", "", "Filter to specific domain")
	f.StringVar(&o.Filter.Decision, "decision", "", `Filter to "allowed" or "denied"`)
	return cmd
}
