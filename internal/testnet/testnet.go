// Package testnet gives end-to-end tests a private network to work in.
//
// Main re-executes the test binary inside fresh network and mount
// namespaces. There the loopback device carries the documentation ranges
// 198.51.100.0/24 and 203.0.113.0/24 (on lo every address of a prefix is
// local), a private /etc/hosts maps the provider names and upN.test to those
// addresses, and a test CA is exported through SSL_CERT_FILE and
// NODE_EXTRA_CA_CERTS. No packet can leave: the namespace has no other link
// and no default route, so a stray dial fails at once instead of reaching
// the internet.
package testnet

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

const envInside = "AWF_TESTNET"

// envDir names the dir holding the private hosts file and CA.
const envDir = "AWF_TESTNET_DIR"

// Providers maps each provider host to its address inside the test network.
var Providers = map[string]string{
	"api.openai.com":                    "203.0.113.1",
	"api.anthropic.com":                 "203.0.113.2",
	"api.githubcopilot.com":             "203.0.113.3",
	"generativelanguage.googleapis.com": "203.0.113.4",
	"api.enterprise.githubcopilot.com":  "203.0.113.5",
	"copilot-api.acme.ghe.com":          "203.0.113.6",
	// Keyless auth (internal/cloudauth): the GitHub Actions OIDC issuer,
	// the clouds' token endpoints and the upstreams they unlock.
	"token.actions.githubusercontent.com":     "203.0.113.20",
	"login.microsoftonline.com":               "203.0.113.21",
	"sts.us-east-1.amazonaws.com":             "203.0.113.22",
	"sts.googleapis.com":                      "203.0.113.23",
	"iamcredentials.googleapis.com":           "203.0.113.24",
	"bedrock-runtime.us-east-1.amazonaws.com": "203.0.113.25",
	"aiplatform.googleapis.com":               "203.0.113.26",
	"myres.openai.azure.com":                  "203.0.113.27",
	// Credential injection (internal/credinject): gh's and git's GitHub.
	"api.github.com": "203.0.113.30",
	"github.com":     "203.0.113.31",
}

// NumHosts is how many generic hosts upN.test (N = 1..NumHosts) exist.
const NumHosts = 200

// HostName returns the name of generic test host n.
func HostName(n int) string { return fmt.Sprintf("up%d.test", n) }

// HostAddr returns the address of generic test host n.
func HostAddr(n int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(n)}) }

// Inside reports whether this process runs in the private test network.
func Inside() bool { return os.Getenv(envInside) == "1" }

// Require skips t unless it runs inside the private test network.
func Require(t testing.TB) {
	t.Helper()
	if !Inside() {
		t.Skip("needs root: runs only inside the private test network (see internal/testnet)")
	}
}

// Main is the TestMain of packages with end-to-end tests. As root it runs
// the tests in a private network; otherwise it runs them as they are, and
// Require skips the ones that need the network.
func Main(m *testing.M) {
	Enter()
	os.Exit(m.Run())
}

// Enter puts the calling program in the private test network: as root it
// re-executes the program inside new namespaces (and exits with the child's
// code); inside, it sets the network up and returns true. Without root it
// returns false and the program runs as it is.
func Enter() bool {
	if Inside() {
		if err := setUp(); err != nil {
			fmt.Fprintln(os.Stderr, "testnet:", err)
			os.Exit(2)
		}
		return true
	}
	if os.Geteuid() != 0 {
		return false
	}
	os.Exit(reexec())
	return false
}

func reexec() int {
	// The private hosts file and CA live in a dir made (and removed) out
	// here: the inside process may be killed at any point.
	dir, err := os.MkdirTemp("", "awf-testnet-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testnet:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envInside+"=1", envDir+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS,
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "testnet: re-exec in a private network:", err)
		return 2
	}
	return 0
}

func setUp() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := run("ip", "link", "set", "lo", "up"); err != nil {
		return err
	}
	for _, p := range []string{"198.51.100.1/24", "203.0.113.1/24"} {
		if err := run("ip", "addr", "add", p, "dev", "lo"); err != nil {
			return err
		}
	}
	dir := os.Getenv(envDir)
	if dir == "" {
		d, err := os.MkdirTemp("", "awf-testnet-")
		if err != nil {
			return err
		}
		dir = d
	}
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte(hostsFile()), 0o644); err != nil {
		return err
	}
	if err := unix.Mount(hosts, "/etc/hosts", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mount private /etc/hosts: %w", err)
	}
	return exportCA(dir)
}

func hostsFile() string {
	var b strings.Builder
	b.WriteString("127.0.0.1 localhost\n::1 localhost\n")
	names := make([]string, 0, len(Providers))
	for n := range Providers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "%s %s\n", Providers[n], n)
	}
	for i := 1; i <= NumHosts; i++ {
		fmt.Fprintf(&b, "%s %s\n", HostAddr(i), HostName(i))
	}
	return b.String()
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}
