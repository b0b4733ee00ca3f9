// Package cliproxy is the original's cli-proxy sidecar, served by awf
// outside the sandbox: the agent's `gh` (a wrapper on its PATH) posts its
// arguments to POST /exec on 172.30.0.50:11000, and awf runs the host's gh
// with GH_HOST pointed at the DIFC proxy, the DIFC CA trusted and the
// GitHub token, which the agent never holds. GET /health answers as the
// original. See README.md.
package cliproxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// The original's address, port and limits.
var IP = netip.MustParseAddr("172.30.0.50")

const (
	Port             = 11000
	DefaultTimeout   = 30 * time.Second // AWF_CLI_PROXY_TIMEOUT_MS
	DefaultMaxOutput = 10 << 20         // AWF_CLI_PROXY_MAX_OUTPUT_BYTES, per stream
	DefaultMaxBody   = 1 << 20          // AWF_CLI_PROXY_MAX_REQUEST_BYTES
	// MaxConcurrent bounds the gh processes running at once: they run
	// outside the sandbox's cgroup, so the agent must not be able to
	// start them without limit.
	MaxConcurrent = 8
)

// Command builds the process that runs gh with args, the environment env
// (already complete: it carries the token) and stdin.
type Command func(ctx context.Context, args, env []string) *exec.Cmd

// Config is the server's configuration.
type Config struct {
	Command Command
	Env     []string // gh's environment: GH_HOST, the token, CA files, proxies
	// Secrets are masked in gh's output besides the token variables of
	// Env (the real token, which gh does not hold but a DIFC proxy could
	// echo back).
	Secrets   []string
	Timeout   time.Duration
	MaxOutput int
	MaxBody   int64
	Log       *AccessLog
}

// Server is the HTTP side.
type Server struct {
	cfg   Config
	slots chan struct{}
}

// New fills in the defaults.
func New(cfg Config) *Server {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxOutput <= 0 {
		cfg.MaxOutput = DefaultMaxOutput
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	return &Server{cfg: cfg, slots: make(chan struct{}, MaxConcurrent)}
}

// Serve answers on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	s.cfg.Log.Log("server_start", map[string]any{"port": Port, "timeoutMs": s.cfg.Timeout.Milliseconds(), "ghHost": envValue(s.cfg.Env, "GH_HOST"),
		"caCert": envValue(s.cfg.Env, "NODE_EXTRA_CA_CERTS"), "hasGhToken": envValue(s.cfg.Env, "GH_TOKEN") != ""})
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func envValue(env []string, k string) string {
	for _, kv := range env {
		if strings.HasPrefix(kv, k+"=") {
			return kv[len(k)+1:]
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func sendError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// ServeHTTP routes GET /health and POST /exec.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.RequestURI() == "/health":
		writeJSON(w, 200, map[string]string{"status": "ok", "service": "cli-proxy"})
	case r.Method == http.MethodPost && r.URL.RequestURI() == "/exec":
		s.exec(w, r)
	default:
		sendError(w, 404, fmt.Sprintf("Not found: %s %s", r.Method, r.URL.RequestURI()))
	}
}

type execRequest struct {
	Args  any            `json:"args"`
	Cwd   any            `json:"cwd"`
	Stdin *string        `json:"stdin"`
	Env   map[string]any `json:"env"`
}

func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	raw, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBody+1))
	if int64(len(raw)) > s.cfg.MaxBody {
		sendError(w, 413, fmt.Sprintf("Request body exceeds maximum size of %d bytes", s.cfg.MaxBody))
		return
	}
	var req execRequest
	if err != nil || json.Unmarshal(raw, &req) != nil {
		s.cfg.Log.Log("exec_error", map[string]any{"error": "Invalid JSON body"})
		sendError(w, 400, "Invalid JSON body")
		return
	}
	args, verr := stringArgs(req.Args)
	if verr == nil {
		verr = ValidateArgs(args)
	}
	if verr != nil {
		s.cfg.Log.Log("exec_denied", map[string]any{"args": req.Args, "error": verr.Error()})
		sendError(w, 403, verr.Error())
		return
	}
	env, dropped := FilterEnv(req.Env)
	fields := map[string]any{"args": args, "cwd": req.Cwd}
	if len(dropped) > 0 {
		fields["envDropped"] = dropped
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-r.Context().Done():
		return
	}
	s.cfg.Log.Log("exec_start", fields)
	stdout, stderr, code := s.run(r.Context(), args, env, req.Stdin)
	stdout, stderr = s.scrub(stdout), s.scrub(stderr)
	done := map[string]any{"args": args, "exitCode": code, "durationMs": time.Since(t0).Milliseconds(),
		"stdoutBytes": len(stdout), "stderrBytes": len(stderr)}
	if code != 0 && stderr != "" {
		done["stderrPreview"] = truncate(stderr, 500)
	}
	s.cfg.Log.Log("exec_done", done)
	writeJSON(w, 200, map[string]any{"stdout": stdout, "stderr": stderr, "exitCode": code})
}

// tokenVars are gh's token variables in Config.Env.
var tokenVars = []string{"GH_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_TOKEN", "GITHUB_ENTERPRISE_TOKEN"}

// scrub masks the token wherever gh's output holds it: whatever way gh is
// made to print it (a parser quirk, a debug or verbose log), the agent
// gets the mask, never the token.
func (s *Server) scrub(out string) string {
	for _, k := range tokenVars {
		if v := envValue(s.cfg.Env, k); len(v) >= 8 {
			out = strings.ReplaceAll(out, v, "***")
		}
	}
	for _, v := range s.cfg.Secrets {
		if len(v) >= 8 {
			out = strings.ReplaceAll(out, v, "***")
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func stringArgs(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New("args must be an array")
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		s, ok := a.(string)
		if !ok {
			return nil, errors.New("All args must be strings")
		}
		out = append(out, s)
	}
	return out, nil
}

// capped keeps the first max bytes and reports overflow.
type capped struct {
	buf      bytes.Buffer
	max      int
	overflow bool
	kill     func()
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room < len(p) {
		c.buf.Write(p[:max(room, 0)])
		if !c.overflow {
			c.overflow = true
			c.kill()
		}
		return len(p), nil
	}
	return c.buf.Write(p)
}

// run executes gh with the per-command timeout and output cap, as the
// original's execFile: a timeout gives exit code 1 and a message, an
// output over the cap kills gh and gives exit code 1.
func (s *Server) run(ctx context.Context, args []string, extra map[string]string, stdin *string) (string, string, int) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	env := append([]string(nil), s.cfg.Env...)
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	cmd := s.cfg.Command(ctx, args, env)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	kill := func() {
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}
	cmd.Cancel = func() error { kill(); return nil }
	cmd.WaitDelay = 2 * time.Second
	out := &capped{max: s.cfg.MaxOutput, kill: kill}
	errb := &capped{max: s.cfg.MaxOutput, kill: kill}
	cmd.Stdout, cmd.Stderr = out, errb
	if stdin != nil && *stdin != "" {
		if b, err := base64.StdEncoding.DecodeString(*stdin); err == nil {
			cmd.Stdin = bytes.NewReader(b)
		}
	}
	err := cmd.Run()
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return "", fmt.Sprintf("Command timed out after %dms", s.cfg.Timeout.Milliseconds()), 1
	case out.overflow || errb.overflow:
		return out.buf.String(), errb.buf.String() + "\nstdout/stderr maxBuffer length exceeded", 1
	case err == nil:
		return out.buf.String(), errb.buf.String(), 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() >= 0 {
		return out.buf.String(), errb.buf.String(), ee.ExitCode()
	}
	return out.buf.String(), "Command execution failed", 1
}
