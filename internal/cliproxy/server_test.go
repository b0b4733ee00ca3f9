package cliproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestValidateArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"api", "/user"}, ""},
		{[]string{"--version"}, ""},
		{[]string{"--repo", "o/r", "pr", "list"}, ""},
		{[]string{"auth", "status"}, "Subcommand 'auth' is not permitted"},
		{[]string{"--repo", "o/r", "config", "list"}, "Subcommand 'config' is not permitted"},
		{[]string{"-R=o/r", "extension", "install", "x"}, "Subcommand 'extension' is not permitted"},
		{[]string{"alias", "set", "x", "!sh"}, "Subcommand 'alias' is not permitted"},
		{[]string{"browse"}, "Subcommand 'browse' is not permitted"},
		{[]string{"repo", "clone", "o/r", "--", "--config", "core.fsmonitor=sh"}, "Argument '--' is not permitted (git pass-through)"},
		// gh reads these as `auth token --hostname -` and `auth token`
		// (it prints the token); the original's scan sees "token" and "".
		{[]string{"--hostname", "-", "auth", "token"}, "Subcommand 'auth' is not permitted"},
		{[]string{"-h", "-", "auth", "token"}, "Subcommand 'auth' is not permitted"},
		{[]string{"", "auth", "token"}, "Subcommand 'auth' is not permitted"},
		{[]string{"--x", "-y", "-", "config", "get", "k"}, "Subcommand 'config' is not permitted"},
		{[]string{"ext", "install", "o/gh-x"}, "Subcommand 'extension' is not permitted"},
		{[]string{"extensions", "list"}, "Subcommand 'extension' is not permitted"},
		{[]string{"--help", "auth", "token"}, "Subcommand 'auth' is not permitted"},
		{[]string{"issue", "create", "--title", "auth"}, ""},
	} {
		err := ValidateArgs(tc.args)
		if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.err)
		}
	}
}

func TestFilterEnv(t *testing.T) {
	keep, dropped := FilterEnv(map[string]any{"GH_REPO": "o/r", "GH_TOKEN": "x", "GH_HOST": "evil", "LD_PRELOAD": "/tmp/x.so",
		"GH_CONFIG_DIR": "/tmp", "XDG_DATA_HOME": "/tmp", "BROWSER": "sh", "NO_COLOR": "1", "N": 3})
	if len(keep) != 2 || keep["GH_REPO"] != "o/r" || keep["NO_COLOR"] != "1" || len(dropped) != 7 {
		t.Errorf("keep %v dropped %v", keep, dropped)
	}
}

// sh stands in for gh: the tests run a shell script with the args.
func sh(script string) Command {
	return func(ctx context.Context, args, env []string) *exec.Cmd {
		c := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", script, "gh"}, args...)...)
		c.Env = env
		return c
	}
}

func post(t *testing.T, s *Server, body string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/exec", strings.NewReader(body)))
	var m map[string]any
	json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m
}

func TestServer(t *testing.T) {
	var logb bytes.Buffer
	s := New(Config{Command: sh(`echo "args:$*"; echo "host:$GH_HOST repo:$GH_REPO" >&2; cat; exit 3`),
		Env: []string{"GH_HOST=localhost:18443", "GH_TOKEN=tok"}, Log: NewLog(&logb)})
	code, m := post(t, s, `{"args":["api","/user"],"cwd":"/w","stdin":"aW5wdXQ=","env":{"GH_REPO":"o/r","GH_HOST":"evil"}}`)
	if code != 200 || m["stdout"] != "args:api /user\ninput" || m["stderr"] != "host:localhost:18443 repo:o/r\n" || m["exitCode"] != 3.0 {
		t.Errorf("%d %v", code, m)
	}
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"args":["auth","status"]}`, 403}, {`{"args":"api"}`, 403}, {`{"args":[1]}`, 403}, {`not json`, 400},
		{`{"args":["x"],"pad":"` + strings.Repeat("a", DefaultMaxBody) + `"}`, 413},
	} {
		body, want := tc.body, tc.want
		if code, m := post(t, s, body); code != want {
			t.Errorf("%.40s: %d %v, want %d", body, code, m, want)
		}
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"service":"cli-proxy","status":"ok"}` {
		t.Errorf("health: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), "Not found: GET /nope") {
		t.Errorf("404: %d %s", rec.Code, rec.Body)
	}
	// The access log: one JSON object per line, the schema's three keys.
	events := []string{}
	for _, l := range strings.Split(strings.TrimSpace(logb.String()), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if !strings.HasPrefix(r["_schema"].(string), "cli-proxy-access/v") || len(r["timestamp"].(string)) != 24 {
			t.Errorf("record %v", r)
		}
		events = append(events, r["event"].(string))
	}
	if got := strings.Join(events, ","); got != "exec_start,exec_done,exec_denied,exec_denied,exec_denied,exec_error" {
		t.Errorf("events %s", got)
	}
	if strings.Contains(logb.String(), "tok") {
		t.Error("the token reached the access log")
	}
}

// TestTokenMasked: gh's output never carries the token to the agent,
// on stdout, stderr or in the access log's stderr preview.
func TestTokenMasked(t *testing.T) {
	var logb bytes.Buffer
	tok := "ghs_0123456789abcdef"
	s := New(Config{Command: sh(`echo "t=$GH_ENTERPRISE_TOKEN"; echo "e=$GH_ENTERPRISE_TOKEN" >&2; exit 1`),
		Env: []string{"GH_HOST=localhost:18443", "GH_ENTERPRISE_TOKEN=" + tok}, Log: NewLog(&logb)})
	_, m := post(t, s, `{"args":["api","/user"]}`)
	if m["stdout"] != "t=***\n" || m["stderr"] != "e=***\n" || strings.Contains(logb.String(), tok) {
		t.Errorf("%v\n%s", m, logb.String())
	}
	// The real token, which gh does not hold, is masked too (a DIFC proxy
	// echoing it back).
	real := "ghs_realtokenechoedback"
	s = New(Config{Command: sh(`echo "r=` + real + `"`), Env: []string{"GH_ENTERPRISE_TOKEN=" + PlaceholderToken}, Secrets: []string{real}, Log: NewLog(&logb)})
	if _, m = post(t, s, `{"args":["api","/user"]}`); m["stdout"] != "r=***\n" {
		t.Errorf("echoed token: %v", m)
	}
}

func TestLimits(t *testing.T) {
	s := New(Config{Command: sh(`sleep 5`), Timeout: 200 * time.Millisecond})
	t0 := time.Now()
	_, m := post(t, s, `{"args":["x"]}`)
	if m["exitCode"] != 1.0 || !strings.Contains(m["stderr"].(string), "timed out") || time.Since(t0) > 3*time.Second {
		t.Errorf("timeout: %v after %v", m, time.Since(t0))
	}
	s = New(Config{Command: sh(`head -c 100000 /dev/zero; sleep 5`), MaxOutput: 1000})
	t0 = time.Now()
	_, m = post(t, s, `{"args":["x"]}`)
	if m["exitCode"] != 1.0 || len(m["stdout"].(string)) != 1000 || time.Since(t0) > 3*time.Second {
		t.Errorf("cap: code %v len %d after %v", m["exitCode"], len(m["stdout"].(string)), time.Since(t0))
	}
}
