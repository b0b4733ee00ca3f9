// Package diagnostics is --diagnostic-logs: after a non-zero exit, the
// original collects each container's log tail, exit state and mounts plus
// the sanitized compose file into <audit-dir>/diagnostics (or
// /tmp/awf-diagnostics-<ts>). The native runtime has no containers; the
// same questions are answered by the proxies' log tails, the command's exit
// state and the redacted configuration, under the same file names where a
// counterpart exists.
package diagnostics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// TailLines is how much of each log is kept (the original's docker logs --tail 200).
const TailLines = 200

// Input is what a run leaves behind.
type Input struct {
	Dir         string // where to write (<audit dir>/diagnostics)
	ExitCode    int
	Err         error          // awf's own failure, if any
	EgressLog   string         // the egress proxy's access.log
	APIProxyLog string         // the api-proxy's api-proxy.log
	Config      map[string]any // (*config.Config).Redacted()
}

// Files are the names written, by role.
var Files = struct{ State, Egress, APIProxy, Config string }{
	State:    "awf-agent.state",
	Egress:   "awf-squid.log",
	APIProxy: "awf-api-proxy.log",
	Config:   "config.redacted.json",
}

// Collect writes the diagnostics and returns the directory. Logs that do
// not exist are skipped, as the original skips containers never started.
func Collect(in Input) (string, error) {
	if err := os.MkdirAll(in.Dir, 0o700); err != nil {
		return "", err
	}
	state := fmt.Sprintf("%d", in.ExitCode)
	if in.Err != nil {
		state += " " + in.Err.Error()
	}
	write := func(name string, data []byte) error {
		return os.WriteFile(filepath.Join(in.Dir, name), data, 0o600)
	}
	if err := write(Files.State, []byte(state+"\n")); err != nil {
		return "", err
	}
	for name, src := range map[string]string{Files.Egress: in.EgressLog, Files.APIProxy: in.APIProxyLog} {
		if data, err := os.ReadFile(src); err == nil && len(bytes.TrimSpace(data)) > 0 {
			if err := write(name, Tail(data, TailLines)); err != nil {
				return "", err
			}
		}
	}
	if in.Config != nil {
		b, err := json.MarshalIndent(in.Config, "", "  ")
		if err != nil {
			return "", err
		}
		if err := write(Files.Config, append(b, '\n')); err != nil {
			return "", err
		}
	}
	return in.Dir, nil
}

// Tail returns the last n lines of data, ending in a newline.
func Tail(data []byte, n int) []byte {
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return append(bytes.Join(lines, []byte("\n")), '\n')
}
