package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/awf-dev/awf/internal/apiproxy"
)

func init() { subcommands = append(subcommands, newAPIProxyCmd) }

func newAPIProxyCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "api-proxy",
		Short: "Run the credential-injecting API proxy sidecar (configured by environment, like the original container)",
		Long: `Runs the API proxy sidecar: OpenAI on 10000 (also /health and /metrics), Anthropic on 10001,
Copilot on 10002 and Gemini on 10003. It reads the same environment variables as the original
container: OPENAI_API_KEY, ANTHROPIC_API_KEY, COPILOT_GITHUB_TOKEN, COPILOT_API_KEY, GEMINI_API_KEY,
*_API_TARGET, *_API_BASE_PATH, GITHUB_SERVER_URL, HTTPS_PROXY/HTTP_PROXY, AWF_RATE_LIMIT_*,
AWF_TOKEN_LOG_DIR, plus AWF_API_PROXY_LISTEN (bind address), AWF_SHUTDOWN_TIMEOUT and AWF_LOG_LEVEL.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := apiproxy.FromEnv(os.Getenv)
			if listen != "" {
				cfg.ListenHost = listen
			}
			return runAPIProxy(cfg)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "IP address to bind the listeners to (default: all; env AWF_API_PROXY_LISTEN)")
	return cmd
}

func runAPIProxy(cfg *apiproxy.Config) error {
	secrets := cfg.LogSecrets()
	log := apiproxy.NewLogger(os.Stdout, logLevel(os.Getenv("AWF_LOG_LEVEL")), secrets)
	for _, w := range cfg.Warnings {
		log.Warn("config_warning", "message", w)
	}
	providers := map[string]any{}
	for _, p := range apiproxy.Providers {
		providers[p.Name] = cfg.Enabled(p)
	}
	proxy := "not configured"
	if cfg.Proxy != nil {
		proxy = cfg.Proxy.Redacted()
	} else {
		log.Warn("no_proxy", "message", "No HTTPS_PROXY configured, requests will go direct")
	}
	log.Info("startup", "targets", cfg.Targets, "base_paths", cfg.BasePaths, "providers", providers,
		"proxy", proxy, "rate_limit", cfg.RateLimit.Enabled, "token_log_dir", cfg.TokenLogDir)
	srv, err := apiproxy.New(cfg, log)
	if err != nil {
		return err
	}
	lns, err := srv.Listen()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return srv.Serve(ctx, lns)
}

func logLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
