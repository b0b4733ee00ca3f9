package deploy

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/ociimage"
)

// engine skips the test (with the reason) when no Docker engine answers.
// .ci/run installs docker.io and starts the daemon, so in CI a skip means
// the engine could not start at all.
func engine(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("container tests need root (the Docker socket)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("no Docker engine (start dockerd; .ci/run does): %v: %s", err, bytes.TrimSpace(out))
	}
}

// docker runs the docker CLI and returns its trimmed stdout; failures are
// fatal with stderr.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := dockerErr(args...)
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func dockerErr(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%v: %s", err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}

// built holds the binaries and loaded images shared by the tests of one
// process.
var built struct {
	once             sync.Once
	err              error
	dir              string
	tag              string
	sizes            map[string]int64
	awf, hc, e2etool string
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// images builds the binaries as `make images` does, writes the three awf
// images plus the test tool's image with a per-process tag, loads them and
// removes them when the process's tests are done (see TestMain).
func images(t *testing.T) {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "awf-deploy-test-")
		if built.err != nil {
			return
		}
		built.tag = fmt.Sprintf("test%d", os.Getpid())
		built.awf = filepath.Join(built.dir, "awf")
		built.hc = filepath.Join(built.dir, "awf-healthcheck")
		built.e2etool = filepath.Join(built.dir, "e2etool")
		for _, b := range []struct{ out, pkg string }{{built.awf, "./cmd/awf"}, {built.hc, "./cmd/awf-healthcheck"}, {built.e2etool, "./deploy/internal/e2etool"}} {
			if built.err = goBuild(b.out, b.pkg); built.err != nil {
				return
			}
		}
		read := func(p string) []byte { b, _ := os.ReadFile(p); return b }
		in := ociimage.Inputs{AWF: read(built.awf), Healthcheck: read(built.hc), CABundle: read("/etc/ssl/certs/ca-certificates.crt"), Tag: built.tag}
		ims := in.Images()
		ims = append(ims, ociimage.Image{RepoTag: "awf/e2etool:" + built.tag, User: "1000:1000",
			Files:      []ociimage.File{{Path: "/e2etool", Mode: 0o755, Data: read(built.e2etool)}, {Path: "/tmp", Dir: true, Mode: 0o1777}},
			Entrypoint: []string{"/e2etool"}})
		built.sizes = map[string]int64{}
		for _, im := range ims {
			p := filepath.Join(built.dir, strings.NewReplacer("/", "-", ":", "-").Replace(im.RepoTag)+".tar")
			f, err := os.Create(p)
			if err != nil {
				built.err = err
				return
			}
			res, err := im.Write(f)
			f.Close()
			if err != nil {
				built.err = err
				return
			}
			built.sizes[im.RepoTag] = res.Size
			if _, built.err = dockerErr("load", "-i", p); built.err != nil {
				return
			}
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
}

func cleanupImages() {
	if built.tag == "" {
		return
	}
	for _, n := range []string{"api-proxy", "egress-proxy", "awf", "e2etool"} {
		dockerErr("rmi", "-f", "awf/"+n+":"+built.tag)
	}
	os.RemoveAll(built.dir)
}

func TestMain(m *testing.M) {
	code := m.Run()
	cleanupImages()
	os.Exit(code)
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func pkcs8(t *testing.T, key any) []byte {
	t.Helper()
	b, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
