package runner

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

// sandboxPath is the PATH the command gets by default.
var sandboxPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// visible reports whether a host path shows in the sandbox as it is (the
// read-only system dirs).
func visible(p string) bool {
	for _, d := range []string{"/usr/", "/opt/", "/bin/", "/sbin/", "/lib/", "/lib64/"} {
		if strings.HasPrefix(p, d) {
			return true
		}
	}
	return false
}

// inSandboxPath finds a program the sandbox can run by name.
func inSandboxPath(name string) string {
	for _, d := range sandboxPath {
		if fi, err := os.Stat(filepath.Join(d, name)); err == nil && fi.Mode().IsRegular() {
			return filepath.Join(d, name)
		}
	}
	return ""
}

// TestToolchainsHelloWorld compiles and runs a hello world with each
// toolchain this machine has, inside awf: the audit of what toolchains
// need from the host's /etc (sandbox.EtcEntries). A toolchain the machine
// lacks is skipped with a message.
func TestToolchainsHelloWorld(t *testing.T) {
	testnet.Require(t)
	type toolchain struct {
		name  string
		setup func(t *testing.T) (args []string, prefix string, ok string) // ok: why not
		files map[string]string
		run   string
		want  string
	}
	byName := func(bins ...string) func(*testing.T) ([]string, string, string) {
		return func(*testing.T) ([]string, string, string) {
			for _, b := range bins {
				if inSandboxPath(b) == "" {
					return nil, "", b + " is not installed in the sandbox's PATH"
				}
			}
			return nil, "", ""
		}
	}
	tcs := []toolchain{
		{name: "java", setup: byName("java", "javac"),
			files: map[string]string{"Hello.java": `public class Hello { public static void main(String[] a) throws Exception {
  java.security.MessageDigest.getInstance("SHA-256"); // reads java.security
  System.out.println("hello from java " + System.getProperty("java.version") + " tz=" + java.util.TimeZone.getDefault().getID()); } }`},
			run: "javac Hello.java && java Hello && java Hello.java", want: "hello from java"},
		{name: "maven", setup: byName("mvn", "java"), run: "mvn -v 2>&1 | head -3", want: "Apache Maven"},
		{name: "python3", setup: byName("python3"),
			files: map[string]string{"hello.py": "import json, ssl, sqlite3, hashlib, zlib, ctypes\nprint('hello from python', ssl.OPENSSL_VERSION.split()[0])\n"},
			run:   "python3 -m py_compile hello.py && python3 hello.py", want: "hello from python OpenSSL"},
		{name: "node", setup: byName("node"),
			files: map[string]string{"hello.js": "const c = require('crypto'); require('https'); console.log('hello from node', c.createHash('sha256').update('x').digest('hex').slice(0, 6));\n"},
			run:   "node hello.js", want: "hello from node 2d7116"},
		{name: "perl", setup: byName("perl"),
			files: map[string]string{"hello.pl": "use strict; use warnings; use POSIX qw(floor); use Net::Config; use Digest::SHA qw(sha1_hex);\nprint 'hello from perl ', floor(2.5), \"\\n\";\n"},
			run:   "perl -c hello.pl 2>&1 && perl hello.pl", want: "hello from perl 2"},
		{name: "git", setup: byName("git"),
			run:  "git init -q r && cd r && echo hi > f && git add f && git -c user.name=a -c user.email=a@b.test commit -qm one && echo \"git log: $(git log --oneline | wc -l)\"",
			want: "git log: 1"},
		{name: "git over https", setup: func(t *testing.T) ([]string, string, string) {
			if inSandboxPath("git") == "" {
				return nil, "", "git is not installed in the sandbox's PATH"
			}
			// A bare repository served over the dumb HTTP protocol by a
			// TLS upstream with the test CA.
			dir := t.TempDir()
			bare, work := filepath.Join(dir, "repo.git"), filepath.Join(dir, "work")
			for _, c := range [][]string{
				{"init", "-q", work},
				{"-C", work, "-c", "user.name=a", "-c", "user.email=a@b.test", "commit", "-q", "--allow-empty", "-m", "hello over https"},
				{"clone", "-q", "--bare", work, bare},
				{"-C", bare, "update-server-info"},
			} {
				if out, err := exec.Command("git", c...).CombinedOutput(); err != nil {
					t.Fatalf("git %v: %v\n%s", c, err, out)
				}
			}
			up := testnet.NewUpstream(t, http.FileServer(http.Dir(dir)))
			return []string{"-d", up.Name}, "export GIT_SSL_CAINFO=" + readableCA(t) + " REPO=https://" + up.Name + "/repo.git; ", ""
		},
			run: "git clone -q \"$REPO\" r && git -C r log --format=%s", want: "hello over https"},
		{name: "ruby", setup: byName("ruby"),
			files: map[string]string{"hello.rb": "require 'json'; require 'openssl'; puts 'hello from ruby'\n"},
			run:   "ruby -c hello.rb && ruby hello.rb", want: "hello from ruby"},
		{name: "dotnet", setup: byName("dotnet"),
			run: "export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 && dotnet new console -o h >/dev/null && cd h && dotnet run", want: "Hello, World!"},
		{name: "go", setup: func(*testing.T) ([]string, string, string) {
			goBin, err := exec.LookPath("go")
			if err != nil || !visible(goBin) {
				return nil, "", "go is not installed under a system dir the sandbox shows"
			}
			// A build cache kept between test runs (like binDir): a cold
			// one compiles the runtime, 15-35 s on a busy 2-core machine.
			prefix := "export PATH=" + filepath.Dir(goBin) + ":$PATH GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod CGO_ENABLED=0; "
			const cache = "/tmp/awf-e2e-gocache"
			os.Mkdir(cache, 0o755)
			if fi, err := os.Lstat(cache); err == nil && fi.IsDir() && os.Lchown(cache, 1000, 1000) == nil {
				prefix += "export GOCACHE=" + cache + "; "
			}
			return nil, prefix, ""
		},
			// Only fmt: a fresh build cache compiles every package used.
			files: map[string]string{"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from go\") }\n"},
			run:   "go mod init hello 2>/dev/null && go build -o hello . && ./hello", want: "hello from go"},
		{name: "rust", setup: func(t *testing.T) ([]string, string, string) {
			rustc, err := exec.LookPath("rustc")
			if err != nil {
				return nil, "", "rustc is not installed"
			}
			out, err := exec.Command(rustc, "--print", "sysroot").Output()
			sysroot := strings.TrimSpace(string(out))
			if err != nil || !filepath.IsAbs(sysroot) {
				return nil, "", "rustc --print sysroot failed"
			}
			if _, err := os.Stat(filepath.Join(sysroot, "bin", "cargo")); err != nil {
				return nil, "", "no cargo beside rustc in " + sysroot
			}
			var args []string
			if !visible(sysroot) { // e.g. root's rustup: shown read-only
				args = []string{"-v", sysroot + ":" + sysroot + ":ro"}
			}
			return args, "export PATH=" + sysroot + "/bin:$PATH; ", ""
		},
			run: "cargo new -q --vcs none hello && cd hello && cargo build -q --offline && ./target/debug/hello", want: "Hello, world!"},
	}
	for _, tc := range tcs {
		t.Run(tc.name, func(t *testing.T) {
			args, prefix, why := tc.setup(t)
			if why != "" {
				t.Skip("skipped: " + why)
			}
			cmd, out, errb := awfCmd(t, nil)
			cmd.Args = append(append(cmd.Args, args...), "--", prefix+"cd "+cmd.Dir+" && "+tc.run)
			for name, body := range tc.files {
				if err := os.WriteFile(filepath.Join(cmd.Dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t0 := time.Now()
			code := testnet.Run(t, cmd, 120*time.Second)
			if code != 0 || !strings.Contains(out.String(), tc.want) {
				t.Fatalf("exit %d, stdout lacks %q:\n%s\n%s", code, tc.want, out, errb)
			}
			t.Logf("%s: %v", strings.TrimSpace(strings.SplitN(out.String(), "\n", 2)[0]), time.Since(t0).Round(time.Millisecond))
		})
	}
}
