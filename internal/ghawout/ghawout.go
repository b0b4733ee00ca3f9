// Package ghawout writes, at the end of a run, the files GitHub Agentic
// Workflows (gh-aw) reads after the agent step, where the original awf
// leaves them or where gh-aw's scripts look for them:
//
//   - awf-reflect.json (when AWF_REFLECT_ENABLED is 1 or true and the
//     api-proxy runs): the api-proxy's /reflect document, next to the
//     --proxy-logs-dir (gh-aw: /tmp/gh-aw/sandbox/firewall/awf-reflect.json,
//     read by awf_reflect_summary.cjs), or in the api-proxy log directory
//     without one. gh-aw's harness saves the same document from inside the
//     sandbox when it can; a file that is already there is left alone.
//   - <audit-dir>/api-proxy-logs/token-usage.jsonl: this run's token usage
//     records, besides <proxy-logs-dir>/api-proxy-logs/token-usage.jsonl.
//     gh-aw's parse_token_usage.cjs and `gh aw logs` look in both places
//     (awf v0.27.7+ layout) and drop duplicates by request_id.
//
// It also turns the api-proxy's request hook into otel.jsonl spans.
//
// All of these land in directories an agent may be able to write (/tmp/gh-aw
// is mounted read-write into the sandbox), and awf runs as root: every file
// is created with openat2(RESOLVE_NO_SYMLINKS), so no planted link can
// steer a write, and an existing awf-reflect.json is never overwritten.
package ghawout

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/apiproxy"
	"github.com/awf-dev/awf/internal/apireflect"
	"github.com/awf-dev/awf/internal/otel"
	"github.com/awf-dev/awf/internal/usage"
)

// TokenFile is the api-proxy's token usage log name.
const TokenFile = "token-usage.jsonl"

// Outputs is one run's end-of-run files.
type Outputs struct {
	Env          map[string]string // awf's environment (AWF_REFLECT_ENABLED)
	ProxyLogsDir string            // --proxy-logs-dir, "" if none
	APIProxyDir  string            // where the api-proxy writes its logs
	AuditDir     string            // --audit-dir or <work>/audit
	// Reflect returns the /reflect document; nil when the api-proxy is off.
	Reflect func() map[string]any

	tokenStart int64        // size of the token log before this run
	spans      *otel.Writer // otel.jsonl, when SpanHook opened it
}

// Begin notes where this run's token records start (a --proxy-logs-dir
// reused across runs already holds earlier runs' records).
func (o *Outputs) Begin() {
	if fi, err := os.Lstat(filepath.Join(o.APIProxyDir, TokenFile)); err == nil && fi.Mode().IsRegular() {
		o.tokenStart = fi.Size()
	}
}

// ReflectEnabled reports whether gh-aw asked for awf-reflect.json.
func ReflectEnabled(env map[string]string) bool {
	v := strings.ToLower(strings.TrimSpace(env["AWF_REFLECT_ENABLED"]))
	return v == "1" || v == "true"
}

// ReflectPath is where awf-reflect.json goes.
func (o *Outputs) ReflectPath() string {
	if o.ProxyLogsDir != "" {
		return filepath.Join(filepath.Dir(filepath.Clean(o.ProxyLogsDir)), apireflect.FileName)
	}
	return filepath.Join(o.APIProxyDir, apireflect.FileName)
}

// Finish writes the files; problems are logged, never fatal (the agent's
// exit code is what the step reports).
func (o *Outputs) Finish(log *slog.Logger) {
	if o.spans != nil {
		o.spans.Close()
	}
	if o.Reflect != nil && ReflectEnabled(o.Env) {
		if err := o.writeReflect(); err != nil && !errors.Is(err, apireflect.ErrExists) {
			log.Warn("writing " + apireflect.FileName + ": " + err.Error())
		}
	}
	if err := o.copyTokens(); err != nil {
		log.Warn("copying token usage to the audit dir: " + err.Error())
	}
}

func (o *Outputs) writeReflect() error {
	b, err := jsonMarshal(o.Reflect())
	if err != nil {
		return err
	}
	return apireflect.WriteNew(o.ReflectPath(), b)
}

// copyTokens appends this run's token records to
// <audit>/api-proxy-logs/token-usage.jsonl.
func (o *Outputs) copyTokens() error {
	if o.AuditDir == "" || o.APIProxyDir == "" {
		return nil
	}
	dstDir := filepath.Join(o.AuditDir, "api-proxy-logs")
	if filepath.Clean(dstDir) == filepath.Clean(o.APIProxyDir) {
		return nil
	}
	src, err := os.OpenFile(filepath.Join(o.APIProxyDir, TokenFile), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer src.Close()
	if fi, err := src.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() <= o.tokenStart {
		return err
	}
	if _, err := src.Seek(o.tokenStart, io.SeekStart); err != nil {
		return err
	}
	dst, err := appendNoFollow(o.AuditDir, "api-proxy-logs", TokenFile)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	return errors.Join(err, dst.Close())
}

// appendNoFollow opens dir/sub/name for appending, creating sub and name
// as needed, resolving no symlink on the way.
func appendNoFollow(dir, sub, name string) (*os.File, error) {
	how := func(flags uint64, mode uint64) *unix.OpenHow {
		return &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Mode: mode, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	}
	dfd, err := unix.Openat2(unix.AT_FDCWD, dir, how(unix.O_PATH|unix.O_DIRECTORY, 0))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(dfd)
	if err := unix.Mkdirat(dfd, sub, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("mkdir %s/%s: %w", dir, sub, err)
	}
	h := how(unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND, 0o644)
	h.Resolve |= unix.RESOLVE_BENEATH
	fd, err := unix.Openat2(dfd, filepath.Join(sub, name), h)
	if err != nil {
		return nil, fmt.Errorf("open %s/%s/%s: %w", dir, sub, name, err)
	}
	f := os.NewFile(uintptr(fd), filepath.Join(dir, sub, name))
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", f.Name())
	}
	return f, nil
}

// SpanHook opens <api-proxy dir>/otel.jsonl and returns the api-proxy
// request hook that writes one span per request into it (nil if the file
// cannot be opened). Finish closes it, after the api-proxy has drained.
func (o *Outputs) SpanHook(log *slog.Logger) apiproxy.RequestHook {
	getenv := func(k string) string { return o.Env[k] }
	w, err := otel.Open(o.APIProxyDir, otel.ParentFromEnv(getenv))
	if err != nil {
		log.Warn("otel.jsonl: " + err.Error())
		return nil
	}
	if v := otel.Exporting(getenv); v != "" {
		log.Info(v + " is set: OTLP export is not implemented natively; spans are written to " + filepath.Join(o.APIProxyDir, otel.FileName))
	}
	o.spans = w
	return spanHook(w)
}

func spanHook(w *otel.Writer) apiproxy.RequestHook {
	return func(provider, method, path, id string) func(int, bool, usage.Usage) {
		sp := w.Start(provider, method, path, id)
		return func(status int, streaming bool, u usage.Usage) {
			sp.End(status, streaming, otel.Tokens{Found: u.Found, Model: u.Model, Input: u.InputTokens, Output: u.OutputTokens,
				CacheRead: u.CacheReadTokens, CacheWrite: u.CacheWriteTokens})
		}
	}
}
