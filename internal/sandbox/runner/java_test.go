package runner

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

// fetchJava fetches args[0] with HttpURLConnection, trusting only the CA
// in args[1] (the test CA; the JDK's own cacerts is left alone). It sets
// no proxy property and prints whichever it finds.
const fetchJava = `import java.io.*; import java.net.*; import java.security.KeyStore;
import java.security.cert.CertificateFactory; import javax.net.ssl.*;
public class Fetch { public static void main(String[] a) throws Exception {
  KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType()); ks.load(null, null);
  try (InputStream in = new FileInputStream(a[1])) { ks.setCertificateEntry("test-ca", CertificateFactory.getInstance("X.509").generateCertificate(in)); }
  TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()); tmf.init(ks);
  SSLContext ctx = SSLContext.getInstance("TLS"); ctx.init(null, tmf.getTrustManagers(), null);
  HttpsURLConnection.setDefaultSSLSocketFactory(ctx.getSocketFactory());
  System.out.println("proxy property: " + System.getProperty("https.proxyHost"));
  try {
    HttpURLConnection c = (HttpURLConnection) new URL(a[0]).openConnection();
    c.setConnectTimeout(5000); c.setReadTimeout(5000);
    String body = new String(c.getInputStream().readAllBytes(), "UTF-8");
    System.out.println("status " + c.getResponseCode() + " " + body);
  } catch (Exception e) { System.out.println("failed: " + e); }
} }
`

// TestJavaReachesAllowedRepositoryWithoutProxySettings (the original's
// open issue #946): Java ignores HTTPS_PROXY, so a JVM without proxy
// properties (a Maven or Gradle build that drops JAVA_TOOL_OPTIONS)
// connects directly; the transparent redirect must carry it to an allowed
// repository, and still refuse one that is not allowed. With the proxy
// properties awf sets it goes through the explicit proxy; both work.
func TestJavaReachesAllowedRepositoryWithoutProxySettings(t *testing.T) {
	testnet.Require(t)
	if inSandboxPath("java") == "" || inSandboxPath("javac") == "" {
		t.Skip("skipped: java/javac are not installed in the sandbox's PATH")
	}
	var hits atomic.Int32
	repo := testnet.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintf(w, "<metadata>%s</metadata>", r.URL.Path)
	}))
	ca := readableCA(t)
	url := "https://" + repo.Name + "/maven2/org/example/lib/maven-metadata.xml"
	denied := "https://" + testnet.HostName(153) + "/maven2/x"
	cmd, out, errb := awfCmd(t, nil)
	os.WriteFile(filepath.Join(cmd.Dir, "Fetch.java"), []byte(fetchJava), 0o644)
	script := strings.Join([]string{
		"cd " + cmd.Dir + " && javac Fetch.java || exit 1",
		"echo '== explicit'; java Fetch " + url + " " + ca,
		"unset JAVA_TOOL_OPTIONS JDK_JAVA_OPTIONS",
		"echo '== transparent'; java Fetch " + url + " " + ca,
		"echo '== denied'; java Fetch " + denied + " " + ca,
	}, "\n")
	cmd.Args = append(cmd.Args, "-d", repo.Name, "--", script)
	if code := testnet.Run(t, cmd, 120*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errb)
	}
	sections := strings.Split(out.String(), "== ")
	get := func(name string) string {
		for _, s := range sections {
			if strings.HasPrefix(s, name) {
				return s
			}
		}
		return ""
	}
	ok := "status 200 <metadata>/maven2/org/example/lib/maven-metadata.xml</metadata>"
	if s := get("explicit"); !strings.Contains(s, ok) || !strings.Contains(s, "proxy property: 172.30.0.10") {
		t.Errorf("with awf's proxy properties:\n%s", s)
	}
	if s := get("transparent"); !strings.Contains(s, ok) || !strings.Contains(s, "proxy property: null") {
		t.Errorf("without proxy properties (transparent redirect):\n%s", s)
	}
	if s := get("denied"); !strings.Contains(s, "failed: ") {
		t.Errorf("a repository not in the allowlist was reached:\n%s", s)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("the repository saw %d requests, want 2", n)
	}
	t.Logf("%s", out)
}
