package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/elevate"
	"github.com/awf-dev/awf/internal/sandbox/native"
	"github.com/awf-dev/awf/internal/sandbox/runner"
	"github.com/awf-dev/awf/oneshot"
)

// processStart is as early as this package can observe, for the start-up
// time report.
var processStart = time.Now()

func init() { configureRoot = setUpRun }

// setUpRun makes the root command run `awf [options] -- <command>`.
func setUpRun(root *cobra.Command) {
	flags := config.Register(root.Flags())
	root.Args = cobra.ArbitraryArgs
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return config.SuggestFlag(cmd.Flags(), err) })
	root.RunE = func(cmd *cobra.Command, args []string) error { return runMain(flags, args) }
}

func environMap() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// exit prints the original's last line and leaves with code.
func exit(code int) error {
	fmt.Fprintf(os.Stderr, "Process exiting with code: %d\n", code)
	os.Exit(code)
	return nil
}

func runMain(flags *config.Flags, args []string) error {
	if os.Geteuid() != 0 {
		// Before anything reads stdin (--config -): the root awf does.
		err := elevate.Exec(os.Args[1:])
		fmt.Fprintln(os.Stderr, "[ERROR] "+err.Error())
		return exit(1)
	}
	env := environMap()
	for k, v := range elevate.Restore(env, os.Geteuid()) {
		os.Setenv(k, v)
	}
	c, warns, err := flags.Build(args, env)
	if err != nil {
		// The original logs a --config failure through its logger
		// ("[ERROR] Error loading --config: ..."); other validation
		// errors keep the "Error:" prefix.
		if strings.HasPrefix(err.Error(), "Error loading --config") {
			fmt.Fprintln(os.Stderr, "[ERROR] "+err.Error())
		} else {
			fmt.Fprintln(os.Stderr, "Error:", err)
		}
		return exit(1)
	}
	log := slog.New(&stderrHandler{w: os.Stderr, level: c.LogLevel})
	// The proxies log each request to their own files; on the terminal
	// only their warnings show, unless debugging.
	proxyLevel := slog.LevelWarn
	if c.LogLevel <= slog.LevelDebug {
		proxyLevel = slog.LevelDebug
	}
	slog.SetDefault(slog.New(&stderrHandler{w: os.Stderr, level: proxyLevel}))
	for _, w := range warns {
		log.Log(context.Background(), w.Level, w.Msg)
	}
	if c.APIProxy.Enabled {
		k := c.APIProxy.Keys
		log.Info(fmt.Sprintf("API proxy enabled: OpenAI=%t, Anthropic=%t, Copilot=%t, Gemini=%t",
			k.OpenAI != "", k.Anthropic != "", k.Copilot(), k.Gemini != ""))
	}
	log.Debug("config", "config", c.Redacted())
	resolver, err := prepareExtras(c) // extras.go: session state, DoH
	if err != nil {
		log.Error("Fatal error: " + err.Error())
		return exit(1)
	}

	code, err := runner.Run(context.Background(), runner.Options{
		Resolver:   resolver,
		Config:     c,
		Stdio:      native.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr},
		Log:        log,
		Preflight:  true,
		PreloadLib: oneshot.Library,
		OnStarted: func(t time.Time) {
			log.Debug(fmt.Sprintf("command started %.1f ms after awf started", float64(t.Sub(processStart).Microseconds())/1000))
		},
	})
	if err != nil {
		log.Error("Fatal error: " + err.Error())
		code = 1
	}
	finishExtras(c, code, err, log) // extras.go: diagnostics, session state
	if c.KeepContainers {
		runner.ShareKept(c, log)
		log.Info("Keeping work dir and logs (--keep-containers): " + c.WorkDir)
	} else {
		for _, k := range runner.Preserve(c, log) {
			log.Info("Logs preserved at: " + k)
		}
	}
	if code == 0 {
		log.Info("Command completed successfully")
	} else {
		log.Info(fmt.Sprintf("Command completed with exit code: %d", code))
	}
	return exit(code)
}

// stderrHandler writes the original's "[LEVEL] message" lines.
type stderrHandler struct {
	mu    sync.Mutex
	w     io.Writer
	level slog.Level
	attrs []slog.Attr
}

func (h *stderrHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *stderrHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	name := map[slog.Level]string{slog.LevelDebug: "DEBUG", slog.LevelInfo: "INFO", slog.LevelWarn: "WARN", slog.LevelError: "ERROR"}[r.Level]
	if name == "" {
		name = r.Level.String()
	}
	fmt.Fprintf(&b, "[%s] %s", name, r.Message)
	add := func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true }
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *stderrHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &stderrHandler{w: h.w, level: h.level, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *stderrHandler) WithGroup(string) slog.Handler { return h }
