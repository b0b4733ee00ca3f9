package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

// composeCmd is `docker compose` (plugin) when present, else Debian's
// docker-compose.
func composeCmd(t *testing.T) []string {
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	t.Skip("neither `docker compose` nor docker-compose is installed (.ci/run installs docker-compose)")
	return nil
}

// testOverride puts a fake upstream (TLS, test CA) on the egress network,
// which it makes internal, so no container can reach anything the test did
// not create; the api-proxy's OpenAI target becomes that upstream.
const testOverride = `services:
  upstream:
    image: awf/e2etool:%[1]s
    command: ["serve", "/certs/leaf.pem", "/certs/leaf-key.pem", ":443"]
    cap_drop: [ALL]
    volumes: ["%[2]s:/certs:ro"]
    networks:
      egress:
        aliases: [upstream.test]
  egress-proxy:
    command: ["--listen=0.0.0.0:3128", "--allow-domains=upstream.test", "--allow-private"]
  api-proxy:
    environment:
      SSL_CERT_FILE: /certs/ca.pem
      OPENAI_API_TARGET: upstream.test
    volumes: ["%[2]s:/certs:ro"]
  agent:
    command: ["idle"]
    user: "1000:1000"
networks:
  egress:
    internal: true
`

// TestComposeTopology brings deploy/compose.yaml up on the real engine and
// sends an LLM call from the agent container through the api-proxy
// sidecar and the egress proxy to a fake upstream.
func TestComposeTopology(t *testing.T) {
	engine(t)
	compose := composeCmd(t)
	t0 := time.Now()
	images(t)
	t.Logf("images built and loaded in %v", time.Since(t0).Round(time.Millisecond))

	ca, err := testnet.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	certs := t.TempDir()
	os.Chmod(certs, 0o755)
	leaf := ca.Leaf("upstream.test")
	writePEM(t, filepath.Join(certs, "leaf.pem"), "CERTIFICATE", leaf.Certificate[0])
	writePEM(t, filepath.Join(certs, "leaf-key.pem"), "PRIVATE KEY", pkcs8(t, leaf.PrivateKey))
	os.Chmod(filepath.Join(certs, "leaf-key.pem"), 0o644) // read by the upstream's uid 1000
	if err := os.WriteFile(filepath.Join(certs, "ca.pem"), ca.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	override := filepath.Join(t.TempDir(), "override.yaml")
	if err := os.WriteFile(override, []byte(fmt.Sprintf(testOverride, built.tag, certs)), 0o644); err != nil {
		t.Fatal(err)
	}
	kb := make([]byte, 12)
	rand.Read(kb)
	key := "sk-test-real-" + hex.EncodeToString(kb)
	project := "awfct" + strconv.Itoa(os.Getpid())
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		full := append(append([]string{}, compose[1:]...), append([]string{"-p", project, "-f", "compose.yaml", "-f", override}, args...)...)
		cmd := exec.CommandContext(ctx, compose[0], full...)
		cmd.Env = append(os.Environ(), "OPENAI_API_KEY="+key, "AWF_IMAGE_TAG="+built.tag, "AWF_AGENT_IMAGE=awf/e2etool:"+built.tag)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { run("down", "-v", "-t", "1") })
	// A run killed before its cleanup leaves its networks holding the
	// spec's fixed subnet; only networks of this test (awfct*) are removed.
	if old, err := dockerErr("network", "ls", "-q", "--filter", "name=awfct"); err == nil {
		for _, n := range strings.Fields(old) {
			ids, _ := dockerErr("network", "inspect", "-f", "{{range $k, $v := .Containers}}{{$k}} {{end}}", n)
			for _, c := range strings.Fields(ids) {
				dockerErr("rm", "-f", c)
			}
			dockerErr("network", "rm", n)
		}
	}

	// Before anything starts: every network is internal (no way out).
	cfg, err := run("config")
	if err != nil {
		t.Fatalf("compose config: %v\n%s", err, cfg)
	}
	t1 := time.Now()
	if out, err := run("up", "-d"); err != nil {
		logs, _ := run("logs", "--no-color")
		t.Fatalf("compose up: %v\n%s\n%s", err, out, logs)
	}
	t.Logf("compose up (healthy sidecars) in %v", time.Since(t1).Round(time.Millisecond))
	id := func(svc string) string {
		out, err := run("ps", "-q", svc)
		if err != nil || strings.TrimSpace(out) == "" {
			t.Fatalf("no container for %s: %v %s", svc, err, out)
		}
		return strings.TrimSpace(out)
	}
	for _, n := range []string{"awf-net", "egress"} {
		if v := docker(t, "network", "inspect", "-f", "{{.Internal}}", project+"_"+n); v != "true" {
			t.Fatalf("network %s is not internal (%s): the test must not give containers a way out", n, v)
		}
	}
	agent, api, egress, upstream := id("agent"), id("api-proxy"), id("egress-proxy"), id("upstream")

	t.Run("healthchecks", func(t *testing.T) {
		for _, c := range []string{api, egress} {
			if s := docker(t, "inspect", "-f", "{{.State.Health.Status}}", c); s != "healthy" {
				t.Errorf("%s: health %q", c[:12], s)
			}
		}
		// The original's command itself, run in the sidecar: a failing
		// path must fail (curl -f), so the check can detect a dead proxy.
		if _, err := dockerErr("exec", api, "curl", "-f", "http://localhost:10009/health"); err == nil {
			t.Error("curl -f on a closed port succeeded: the healthcheck could not fail")
		}
		if _, err := dockerErr("exec", api, "sh", "-c", "true"); err == nil {
			t.Error("the sidecar image has a shell")
		}
	})

	t.Run("limits and privileges", func(t *testing.T) {
		var hc []struct {
			HostConfig struct {
				Memory, NanoCpus int64
				PidsLimit        *int64
				CapDrop          []string
				SecurityOpt      []string
				ReadonlyRootfs   bool
			}
			Config struct{ User string }
		}
		if err := json.Unmarshal([]byte(docker(t, "inspect", api)), &hc); err != nil || len(hc) != 1 {
			t.Fatal(err)
		}
		h := hc[0].HostConfig
		if h.Memory != 512<<20 || h.PidsLimit == nil || *h.PidsLimit != 100 || h.NanoCpus != 1e9 ||
			strings.Join(h.CapDrop, ",") != "ALL" || !strings.Contains(strings.Join(h.SecurityOpt, ","), "no-new-privileges") || !h.ReadonlyRootfs {
			t.Fatalf("api-proxy limits/privileges: %+v", h)
		}
		if hc[0].Config.User != "10001:10001" {
			t.Fatalf("api-proxy runs as %q", hc[0].Config.User)
		}
		// The limits are the kernel's, not only the engine's record.
		pid := docker(t, "inspect", "-f", "{{.State.Pid}}", api)
		st, _ := os.ReadFile("/proc/" + pid + "/status")
		if m := regexp.MustCompile(`CapEff:\s*(\S+)`).FindSubmatch(st); m == nil || string(m[1]) != "0000000000000000" {
			t.Fatalf("api-proxy has effective capabilities: %s", m)
		}
		if m := regexp.MustCompile(`NoNewPrivs:\s*(\d)`).FindSubmatch(st); m == nil || string(m[1]) != "1" {
			t.Fatal("api-proxy without no_new_privs")
		}
		mib := func(field string) float64 {
			m := regexp.MustCompile(field + `:\s*(\d+) kB`).FindSubmatch(st)
			if m == nil {
				return -1
			}
			kb, _ := strconv.Atoi(string(m[1]))
			return float64(kb) / 1024
		}
		t.Logf("api-proxy sidecar idle in its container: VmRSS %.1f MiB (anon %.1f, file %.1f; goal < 20 MiB); image %.1f MB (goal < 20 MB)",
			mib("VmRSS"), mib("RssAnon"), mib("RssFile"), float64(built.sizes["awf/api-proxy:"+built.tag])/1e6)
	})

	t.Run("LLM call through the sidecar, key injected", func(t *testing.T) {
		out := docker(t, "exec", agent, "/e2etool", "call", "http://172.30.0.30:10000/v1/chat/completions")
		if !strings.HasPrefix(out, "status 200") || !strings.Contains(out, "hello from the fake upstream") {
			logs, _ := run("logs", "--no-color")
			t.Fatalf("agent's call: %s\n%s", out, logs)
		}
		up := docker(t, "logs", upstream)
		if !strings.Contains(up, `authorization="Bearer `+key+`"`) {
			t.Fatalf("the upstream did not get the real key: %s", up)
		}
		if strings.Contains(up, "sk-placeholder-for-api-proxy") {
			t.Fatal("the agent's placeholder reached the upstream")
		}
		env := docker(t, "exec", agent, "/e2etool", "env")
		apiLogs, _ := dockerErr("logs", api)
		egLogs, _ := dockerErr("logs", egress)
		for what, s := range map[string]string{"agent's response": out, "agent's environment": env, "api-proxy log": apiLogs, "egress log": egLogs} {
			if strings.Contains(s, key) {
				t.Errorf("the real key appears in the %s", what)
			}
		}
		if !strings.Contains(env, "OPENAI_BASE_URL=http://172.30.0.30:10000/v1") || !strings.Contains(env, "HTTPS_PROXY=http://172.30.0.10:3128") {
			t.Errorf("agent lacks the spec's env: %s", env)
		}
	})

	t.Run("direct egress fails, only the proxies answer", func(t *testing.T) {
		upIP := docker(t, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", upstream)
		// The upstream is up (the call above reached it) but on the egress
		// network only: the agent cannot connect to it directly. Both
		// networks are internal (checked above), so the engine drops
		// anything addressed outside them; the test sends nothing to
		// addresses it did not create.
		addr := strings.Fields(upIP)[0] + ":443"
		if out := docker(t, "exec", agent, "/e2etool", "dial", addr); !strings.HasPrefix(out, "error:") {
			t.Errorf("agent dial %s (the upstream, directly): %s", addr, out)
		}
		for _, addr := range []string{"172.30.0.10:3128", "172.30.0.30:10000"} {
			if out := docker(t, "exec", agent, "/e2etool", "dial", addr); out != "open" {
				t.Errorf("agent cannot reach the proxy %s: %s", addr, out)
			}
		}
	})
	t.Logf("compose test total %v", time.Since(t0).Round(time.Millisecond))
}
