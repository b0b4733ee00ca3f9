package config

import (
	"encoding/json"
	"io/fs"
	"log/slog"
	"os/user"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// fakeSys is a host with a few files, a passwd database and a fixed clock.
func fakeSys(euid int, files map[string]string) System {
	users := map[string]*user.User{
		"0":    {Uid: "0", Gid: "0", Username: "root", HomeDir: "/root"},
		"1001": {Uid: "1001", Gid: "1001", Username: "runner", HomeDir: "/home/runner"},
		"500":  {Uid: "500", Gid: "20", Username: "old", HomeDir: "/home/old"},
	}
	return System{
		ReadFile: func(p string) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			return nil, fs.ErrNotExist
		},
		Stat: func(p string) (fs.FileInfo, error) {
			if _, ok := files[p]; ok {
				return nil, nil
			}
			return nil, fs.ErrNotExist
		},
		Geteuid: func() int { return euid },
		LookupID: func(uid string) (*user.User, error) {
			if u, ok := users[uid]; ok {
				return u, nil
			}
			return nil, user.UnknownUserIdError(0)
		},
		LookupName: func(name string) (*user.User, error) {
			for _, u := range users {
				if u.Username == name {
					return u, nil
				}
			}
			return nil, user.UnknownUserError(name)
		},
		Now: func() time.Time { return time.UnixMilli(1700000000123) },
	}
}

var testFiles = map[string]string{
	"/d.txt":   "github.com # code\n# whole line\nnpmjs.org, pypi.org\n\n",
	"/b.txt":   "evil.com\n",
	"/bad.txt": "ok.com\n*.*\n",
	"/env":     "# c\nA=1\nB=two words\nbad line\n1X=3\nC='q'\n",
	"/data":    "",
	"/gh-path": "/opt/tool/bin\n/opt/other/bin\n/opt/tool/bin\n",
}

func build(t *testing.T, argv []string, env map[string]string) (*Config, []Warning, error) {
	t.Helper()
	fs := pflag.NewFlagSet("awf", pflag.ContinueOnError)
	f := Register(fs)
	f.Sys = fakeSys(0, testFiles)
	if err := fs.Parse(argv); err != nil {
		t.Fatalf("parse %v: %v", argv, err)
	}
	if env == nil {
		env = map[string]string{"SUDO_UID": "1001", "SUDO_GID": "1001"}
	}
	return f.Build(fs.Args(), env)
}

func TestBuildErrors(t *testing.T) {
	cases := []struct {
		name string
		argv []string
		want string
	}{
		{"no command", []string{"-d", "x.com"}, "No command specified. Use -- to separate command from options."},
		{"log level", []string{"--log-level", "loud", "--", "true"}, "Invalid log level: loud"},
		{"domains file", []string{"--allow-domains-file", "/nope", "--", "true"}, "Failed to read domains file: Domains file not found: /nope"},
		{"blocked file", []string{"--block-domains-file", "/nope", "--", "true"}, "Failed to read blocked domains file: Domains file not found: /nope"},
		{"env format", []string{"-e", "NOEQUALS", "--", "true"}, "Invalid environment variable format: NOEQUALS (expected KEY=VALUE)"},
		{"env empty name", []string{"-e", "=v", "--", "true"}, "Invalid environment variable format: =v (expected KEY=VALUE)"},
		{"env file", []string{"--env-file", "/nope", "--", "true"}, "--env-file: file not found: /nope"},
		{"mount parts", []string{"-v", "/data", "--", "true"}, "Invalid volume mount: /data\nReason: Mount must be in format host_path:container_path[:mode]"},
		{"mount relative", []string{"-v", "data:/x", "--", "true"}, "Reason: Host path must be absolute (start with /)"},
		{"mount ctr relative", []string{"-v", "/data:x", "--", "true"}, "Reason: Container path must be absolute (start with /)"},
		{"mount mode", []string{"-v", "/data:/x:rx", "--", "true"}, `Reason: Mount mode must be either "ro" or "rw"`},
		{"mount missing", []string{"-v", "/missing:/x", "--", "true"}, "Reason: Host path does not exist: /missing"},
		{"dns empty", []string{"--dns-servers", " , ", "--", "true"}, "Invalid DNS servers: At least one DNS server must be specified"},
		{"dns bad", []string{"--dns-servers", "8.8.8.8,dns.google", "--", "true"}, "Invalid DNS servers: Invalid DNS server IP address: dns.google"},
		{"memory format", []string{"--memory-limit", "6GB", "--", "true"}, `Invalid --memory-limit value "6GB". Expected format: <number><unit> (e.g., 2g, 512m, 4g)`},
		{"memory zero", []string{"--memory-limit", "0g", "--", "true"}, `Invalid --memory-limit value "0g". Memory limit must be a positive number.`},
		{"timeout", []string{"--agent-timeout", "0", "--", "true"}, "--agent-timeout must be a positive integer (minutes)"},
		{"timeout float", []string{"--agent-timeout", "1.5", "--", "true"}, "--agent-timeout must be a positive integer (minutes)"},
		{"rate not positive", []string{"--enable-api-proxy", "--rate-limit-rph", "-3", "--", "true"}, "--rate-limit-rph must be a positive integer"},
		{"rate not int", []string{"--enable-api-proxy", "--rate-limit-bytes-pm", "1e6", "--", "true"}, "--rate-limit-bytes-pm must be a positive integer"},
		{"bad target", []string{"--openai-api-target", "https://bad host/", "--", "true"}, `Invalid --openai-api-target`},
		{"domain wildcard", []string{"-d", "github.com,*", "--", "true"}, "Invalid domain or pattern: Pattern '*' matches all domains"},
		{"domain from file", []string{"--allow-domains-file", "/bad.txt", "--", "true"}, "Invalid domain or pattern: "},
		{"blocked domain", []string{"--block-domains", "a..b", "--", "true"}, "Invalid blocked domain or pattern: "},
		{"workdir relative", []string{"--container-workdir", "src", "--", "true"}, "--container-workdir must be an absolute path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := build(t, tc.argv, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestBuildDefaults(t *testing.T) {
	c, _, err := build(t, []string{"--", "echo $HOME"}, map[string]string{"SUDO_UID": "1001", "SUDO_GID": "1001", "TMPDIR": "/var/tmp"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Command != "echo $HOME" {
		t.Errorf("Command = %q", c.Command)
	}
	if c.MemoryLimit != "6g" || c.MemoryLimitBytes != 6<<30 {
		t.Errorf("memory = %q %d", c.MemoryLimit, c.MemoryLimitBytes)
	}
	if c.LogLevel != slog.LevelInfo || c.AgentTimeout != 0 || c.TTY || c.KeepContainers || !c.APIProxy.Enabled || c.Security.Legacy {
		t.Errorf("unexpected non-defaults: %+v", c)
	}
	if c.WorkDir != "/var/tmp/awf-1700000000123" || c.AuditDir != "/var/tmp/awf-1700000000123/audit" {
		t.Errorf("WorkDir %q AuditDir %q", c.WorkDir, c.AuditDir)
	}
	if c.DNSServers != nil {
		t.Errorf("DNSServers = %v, want nil (auto-detect)", c.DNSServers)
	}
	if c.User != (Identity{UID: 1001, GID: 1001, Name: "runner", Home: "/home/runner"}) {
		t.Errorf("User = %+v", c.User)
	}
	if len(c.AllowDomains) != 0 || c.APIProxy.RateLimit.Enabled {
		t.Errorf("allow %v rate %+v", c.AllowDomains, c.APIProxy.RateLimit)
	}
}

func TestBuildFull(t *testing.T) {
	env := map[string]string{
		"SUDO_UID": "1001", "SUDO_GID": "1001",
		"OPENAI_API_KEY": "  sk-openai-secret-0123456789\n", "ANTHROPIC_API_KEY": "sk-ant-secret-abcdef",
		"ANTHROPIC_API_TARGET": "claude.corp.example", "OPENAI_API_BASE_PATH": "serving-endpoints/",
		"AWF_AUDIT_DIR": "/audit-env", "GITHUB_PATH": "/gh-path",
	}
	argv := []string{
		"-d", "github.com, api.openai.com", "-d", "github.com", "--allow-domains-file", "/d.txt",
		"--block-domains", "evil.com", "--block-domains-file", "/b.txt",
		"--enable-api-proxy", "--openai-api-target", "https://llm.corp.example:8443/v1",
		"--rate-limit-rpm", "30",
		"-e", "A=1", "-e", "B=x=y", "--env-file", "/env", "--exclude-env", "SECRET", "--env-all",
		"-v", "/data:/mnt/data:ro", "--container-workdir", "/work", "--memory-limit", "512M",
		"--tty", "--agent-timeout", "15", "--log-level", "debug", "-k",
		"--work-dir", "/w", "--proxy-logs-dir", "/logs", "--dns-servers", "1.1.1.1, 2001:4860:4860::8888",
		"--image-tag", "v1", "-b",
		"--", "curl", "-H", "Auth: it's", "https://api.github.com",
	}
	c, warns, err := build(t, argv, env)
	if err != nil {
		t.Fatal(err)
	}
	if want := `curl -H 'Auth: it'\''s' https://api.github.com`; c.Command != want {
		t.Errorf("Command = %q, want %q", c.Command, want)
	}
	wantAllow := []string{"github.com", "api.openai.com", "npmjs.org", "pypi.org", "https://llm.corp.example", "https://claude.corp.example"}
	if strings.Join(c.AllowDomains, " ") != strings.Join(wantAllow, " ") {
		t.Errorf("AllowDomains = %v, want %v", c.AllowDomains, wantAllow)
	}
	if strings.Join(c.BlockDomains, " ") != "evil.com" {
		t.Errorf("BlockDomains = %v", c.BlockDomains)
	}
	tg := c.APIProxy.Targets
	if tg.OpenAI != "llm.corp.example" || tg.Anthropic != "claude.corp.example" || tg.OpenAIBasePath != "/serving-endpoints" {
		t.Errorf("Targets = %+v", tg)
	}
	if c.APIProxy.Keys.OpenAI != "sk-openai-secret-0123456789" {
		t.Errorf("OpenAI key not trimmed: %q", c.APIProxy.Keys.OpenAI)
	}
	if rl := c.APIProxy.RateLimit; rl != (RateLimit{true, 30, DefaultRPH, DefaultBytesPM}) {
		t.Errorf("RateLimit = %+v", rl)
	}
	if len(c.Env.Extra) != 2 || c.Env.Extra[1] != (EnvVar{"B", "x=y"}) || !c.Env.All {
		t.Errorf("Env = %+v", c.Env)
	}
	if len(c.Env.FileVars) != 3 || c.Env.FileVars[2] != (EnvVar{"C", "'q'"}) {
		t.Errorf("FileVars = %+v", c.Env.FileVars)
	}
	if len(c.Mounts) != 1 || c.Mounts[0] != (Mount{"/data", "/mnt/data", true}) {
		t.Errorf("Mounts = %+v", c.Mounts)
	}
	if c.MemoryLimit != "512m" || c.MemoryLimitBytes != 512<<20 || !c.TTY || c.AgentTimeout != 15*time.Minute ||
		c.LogLevel != slog.LevelDebug || !c.KeepContainers || c.WorkDir != "/w" || c.AuditDir != "/audit-env" ||
		c.ProxyLogsDir != "/logs" || c.ContainerWorkdir != "/work" {
		t.Errorf("scalars wrong: %+v", c)
	}
	if strings.Join(c.DNSServers, ",") != "1.1.1.1,2001:4860:4860::8888" {
		t.Errorf("DNSServers = %v", c.DNSServers)
	}
	if strings.Join(c.GitHubPath, ":") != "/opt/tool/bin:/opt/other/bin" {
		t.Errorf("GitHubPath = %v", c.GitHubPath)
	}
	msgs := warnText(warns)
	for _, want := range []string{
		"--image-tag is a Docker-runtime flag and is ignored",
		"--build-local is a Docker-runtime flag and is ignored",
		"Ignoring unsupported API target URL components in https://llm.corp.example:8443/v1",
		"API proxy enabled: OpenAI=true, Anthropic=true, Copilot=false, Gemini=false",
		"⚠️  Using --env-all",
		"--env-file: ignoring line 4",
		"--env-file: ignoring line 5",
	} {
		if !strings.Contains(msgs, want) {
			t.Errorf("warnings lack %q:\n%s", want, msgs)
		}
	}
	if strings.Contains(msgs, "no API keys found") {
		t.Errorf("missing-keys warning with keys present")
	}
}

func warnText(ws []Warning) string {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString(w.Level.String() + " " + w.Msg + "\n")
	}
	return b.String()
}

func TestAPIProxyNotices(t *testing.T) {
	_, warns, err := build(t, []string{"--enable-api-proxy", "--", "gemini", "-p", "hi"}, map[string]string{"SUDO_UID": "1001", "OPENAI_API_KEY": "   "})
	if err != nil {
		t.Fatal(err)
	}
	msgs := warnText(warns)
	for _, want := range []string{
		"WARN ⚠️  API proxy enabled but no API keys found in environment",
		"WARN    Set OPENAI_API_KEY, ANTHROPIC_API_KEY, COPILOT_GITHUB_TOKEN, COPILOT_API_KEY, or GEMINI_API_KEY to use the proxy",
		"INFO API proxy enabled: OpenAI=false, Anthropic=false, Copilot=false, Gemini=false",
		"WARN ⚠️  GEMINI_API_KEY is not set",
	} {
		if !strings.Contains(msgs, want) {
			t.Errorf("warnings lack %q:\n%s", want, msgs)
		}
	}
}

func TestRateLimitRules(t *testing.T) {
	cases := []struct {
		argv []string
		want RateLimit
	}{
		{[]string{"--enable-api-proxy"}, RateLimit{}},
		{[]string{"--enable-api-proxy", "--rate-limit-rph", "50"}, RateLimit{true, DefaultRPM, 50, DefaultBytesPM}},
		{[]string{"--enable-api-proxy", "--rate-limit-rpm", "5", "--no-rate-limit"}, RateLimit{}},
		{[]string{"--enable-api-proxy", "--rate-limit-bytes-pm", "1000", "--rate-limit-rpm", "1"}, RateLimit{true, 1, DefaultRPH, 1000}},
	}
	for _, tc := range cases {
		c, _, err := build(t, append(tc.argv, "--", "true"), nil)
		if err != nil {
			t.Fatalf("%v: %v", tc.argv, err)
		}
		if c.APIProxy.RateLimit != tc.want {
			t.Errorf("%v: %+v, want %+v", tc.argv, c.APIProxy.RateLimit, tc.want)
		}
	}
}

func TestValidateDomainHook(t *testing.T) {
	fs := pflag.NewFlagSet("awf", pflag.ContinueOnError)
	f := Register(fs)
	f.Sys = fakeSys(0, testFiles)
	f.ValidateBlocked = func(d string) error {
		if strings.Contains(d, "*") {
			return &Error{Msg: "Pattern '*' matches all domains"}
		}
		return nil
	}
	_ = fs.Parse([]string{"-d", "ok.com", "--block-domains", "*", "--", "true"})
	_, _, err := f.Build(fs.Args(), map[string]string{})
	if err == nil || err.Error() != "Invalid blocked domain or pattern: Pattern '*' matches all domains" {
		t.Fatalf("err = %v", err)
	}
}

func TestJoinCommand(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"echo $HOME && ls"}, "echo $HOME && ls"},
		{[]string{"curl", "-fsS", "https://a.b/c?d=e"}, `curl -fsS 'https://a.b/c?d=e'`},
		{[]string{"echo", "a b", "it's", "", "x=1:/p_q-r.s"}, `echo 'a b' 'it'\''s' '' x=1:/p_q-r.s`},
		{[]string{"printf", "%s\n", "$HOME"}, `printf '%s` + "\n" + `' '$HOME'`},
	}
	for _, tc := range cases {
		if got := JoinCommand(tc.args); got != tc.want {
			t.Errorf("JoinCommand(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestAutoAllowedAndCopilotTarget(t *testing.T) {
	got := AutoAllowed(Targets{Copilot: "copilot.x.com"}, map[string]string{
		"GITHUB_SERVER_URL": "https://acme.ghe.com", "GITHUB_API_URL": "https://api.acme.ghe.com",
		"ENGINE_API_TARGET": "https://api.ghes.corp",
	})
	want := "acme.ghe.com api.acme.ghe.com copilot-api.acme.ghe.com copilot-telemetry-service.acme.ghe.com " +
		"ghes.corp api.ghes.corp api.githubcopilot.com api.enterprise.githubcopilot.com telemetry.enterprise.githubcopilot.com https://copilot.x.com"
	if strings.Join(got, " ") != want {
		t.Errorf("AutoAllowed = %v\nwant %v", got, want)
	}
	for _, tc := range []struct{ explicit, server, want string }{
		{"", "", "api.githubcopilot.com"},
		{"", "https://github.com", "api.githubcopilot.com"},
		{"", "https://acme.ghe.com", "copilot-api.acme.ghe.com"},
		{"", "https://ghes.corp", "api.enterprise.githubcopilot.com"},
		{"c.example", "https://acme.ghe.com", "c.example"},
	} {
		if got := CopilotTarget(tc.explicit, tc.server); got != tc.want {
			t.Errorf("CopilotTarget(%q,%q) = %q, want %q", tc.explicit, tc.server, got, tc.want)
		}
	}
}

func TestResolveIdentity(t *testing.T) {
	cases := []struct {
		name string
		euid int
		env  map[string]string
		want Identity
	}{
		{"sudo", 0, map[string]string{"SUDO_UID": "1001", "SUDO_GID": "1001", "HOME": "/root"}, Identity{1001, 1001, "runner", "/home/runner"}},
		{"root no sudo", 0, map[string]string{"HOME": "/root"}, Identity{1000, 1000, "", "/root"}},
		{"sudo from root", 0, map[string]string{"SUDO_UID": "0", "SUDO_GID": "0"}, Identity{1000, 1000, "", "/root"}},
		{"home slash", 4242, map[string]string{"HOME": "/"}, Identity{4242, 4242, "", "/tmp"}},
		{"low uid kept", 0, map[string]string{"SUDO_UID": "500", "SUDO_GID": "20"}, Identity{500, 20, "old", "/home/old"}},
		{"non-root", 1001, map[string]string{"HOME": "/elsewhere"}, Identity{1001, 1001, "runner", "/home/runner"}},
		{"unknown uid", 4242, map[string]string{"HOME": "/h"}, Identity{4242, 4242, "", "/h"}},
		{"sudo gid missing", 0, map[string]string{"SUDO_UID": "1001"}, Identity{1001, 1001, "runner", "/home/runner"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := ResolveIdentity(fakeSys(tc.euid, nil), tc.env)
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseFiles(t *testing.T) {
	vars, bad := ParseEnvFile([]byte("A=1\r\n  B = 2\nexport C=3\n#x\nD=\n"))
	if len(vars) != 2 || vars[0] != (EnvVar{"A", "1"}) || vars[1] != (EnvVar{"D", ""}) {
		t.Errorf("vars = %+v", vars)
	}
	if len(bad) != 2 || bad[0] != 2 || bad[1] != 3 {
		t.Errorf("bad = %v", bad)
	}
}

func TestRedacted(t *testing.T) {
	env := map[string]string{
		"SUDO_UID": "1001", "ANTHROPIC_API_KEY": "sk-ant-REALKEY-123456", "GITHUB_TOKEN": "ghp_" + strings.Repeat("a", 36),
	}
	argv := []string{"--enable-api-proxy", "-e", "MY_TOKEN=t0k3n", "-e", "PLAIN=hello", "-e", "COPY=x-sk-ant-REALKEY-123456",
		"-e", "DB_PASSWORD=pw", "-e", "GCP_CREDENTIALS=c", "-e", "CFG_B64=Zm9v", "--",
		"curl", "-H", "Authorization: Bearer abc.def", "-H", "x-api-key: sk-ant-REALKEY-123456", "API_KEY=zzz", "ghp_" + strings.Repeat("b", 40)}
	c, _, err := build(t, argv, env)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(c.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, secret := range []string{"sk-ant-REALKEY-123456", "t0k3n", "abc.def", "zzz", "pw\"", "Zm9v", "ghp_"} {
		if strings.Contains(s, secret) {
			t.Errorf("redacted dump contains %q:\n%s", secret, s)
		}
	}
	// No value at all, secret-looking or not: PLAIN shows as a salted hash.
	if strings.Contains(s, "hello") {
		t.Errorf("redacted dump contains a plain -e value:\n%s", s)
	}
	for _, want := range []string{"PLAIN=" + HideValue("hello"), "MY_TOKEN=[REDACTED]", "COPY=[REDACTED]", `"anthropic":true`} {
		if !strings.Contains(s, want) {
			t.Errorf("redacted dump lacks %q:\n%s", want, s)
		}
	}
}

// TestRedactedHidesEveryEnvValue: a value that names cannot flag
// (DATABASE_URL with a password) appears nowhere in the dump, not even
// where the command repeats it; equal values get equal hashes.
func TestRedactedHidesEveryEnvValue(t *testing.T) {
	const db = "postgres://u:pass@db/x"
	argv := []string{"-e", "DATABASE_URL=" + db, "-e", "SAME=" + db, "-e", "OTHER=canary-7f3a9c", "--", "psql " + db + " -c 'select 1'"}
	c, _, err := build(t, argv, map[string]string{"SUDO_UID": "1001"})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(c.Redacted())
	s := string(out)
	for _, v := range []string{db, "pass@", "canary-7f3a9c"} {
		if strings.Contains(s, v) {
			t.Errorf("dump contains %q:\n%s", v, s)
		}
	}
	h := HideValue(db)
	if !strings.HasPrefix(h, HashedPrefix) || !strings.Contains(s, "DATABASE_URL="+h) || !strings.Contains(s, "SAME="+h) {
		t.Errorf("equal values should share the hash %s:\n%s", h, s)
	}
	if HideValue("canary-7f3a9c") == h {
		t.Error("different values, same hash")
	}
}

func TestRedactSecrets(t *testing.T) {
	cases := map[string]string{
		"curl -H 'Authorization: Bearer xyz'":     "curl -H 'Authorization: Bearer ***REDACTED***",
		"Authorization: token123 rest":            "Authorization: ***REDACTED*** rest",
		"GH_TOKEN=abc MY_SECRET='a b' OTHER=fine": "GH_TOKEN=***REDACTED*** MY_SECRET=***REDACTED*** OTHER=fine",
		"echo hello": "echo hello",
	}
	for in, want := range cases {
		if got := RedactSecrets(in); got != want {
			t.Errorf("RedactSecrets(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	argv := []string{"-d", "github.com,api.openai.com,*.github.com,pypi.org", "--enable-api-proxy",
		"-e", "A=1", "--rate-limit-rpm", "30", "--", "claude", "-p", "hello world"}
	env := map[string]string{"SUDO_UID": "1001", "ANTHROPIC_API_KEY": "sk-ant-x"}
	for b.Loop() {
		fs := pflag.NewFlagSet("awf", pflag.ContinueOnError)
		f := Register(fs)
		f.Sys = fakeSys(0, testFiles)
		if err := fs.Parse(argv); err != nil {
			b.Fatal(err)
		}
		if _, _, err := f.Build(fs.Args(), env); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSharedSuffixWildcardWarns(t *testing.T) {
	_, warns, err := build(t, []string{"--allow-domains", "*.githubusercontent.com,github.com", "--", "true"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range warns {
		found = found || w.Level == slog.LevelWarn && strings.Contains(w.Msg, "shared suffix")
	}
	if !found {
		t.Errorf("no shared-suffix warning in %+v", warns)
	}
}
