package domains

import "testing"

// benchAllow and benchBlock are a 50-entry policy shaped like a real gh-aw
// allowlist: mostly plain names, a few patterns and protocol prefixes.
var benchAllow = []string{
	"github.com", "api.github.com", "codeload.github.com", "docs.github.com", "lfs.github.com",
	"raw.githubusercontent.com", "objects.githubusercontent.com", "github-cloud.githubusercontent.com",
	"github-cloud.s3.amazonaws.com", "github.githubassets.com", "github.blog", "api.githubcopilot.com",
	"api.business.githubcopilot.com", "api.enterprise.githubcopilot.com", "api.individual.githubcopilot.com",
	"telemetry.enterprise.githubcopilot.com", "registry.npmjs.org", "registry.npmjs.com", "npmjs.org",
	"pypi.org", "files.pythonhosted.org", "proxy.golang.org", "sum.golang.org", "go.dev", "crates.io",
	"static.crates.io", "index.crates.io", "https://api.openai.com", "https://api.anthropic.com",
	"https://generativelanguage.googleapis.com", "http://archive.ubuntu.com", "http://security.ubuntu.com",
	"deb.nodesource.com", "nodejs.org", "repo.maven.apache.org", "repo1.maven.org", "dl.google.com",
	"storage.googleapis.com", "*.vsblob.vsassets.io", "*.gradle-enterprise.cloud", "api-*.example.com",
	"https://*.blob.core.windows.net.example", "*.docker.io", "*.s3.us-east-1.amazonaws.com.example", "ocsp.digicert.com",
}

var benchBlock = []string{"evil.github.com", "gist.github.com", "*.bad.npmjs.org", "upload.pypi.org", "*.exfil.example.com"}

var benchHosts = []struct {
	name  string
	host  string
	proto Proto
}{
	{"plain-apex", "github.com", HTTPS},
	{"plain-sub", "api.github.com", HTTPS},
	{"plain-deep", "a.b.c.registry.npmjs.org", HTTPS},
	{"pattern", "production.cloudflare.docker.io", HTTPS},
	{"blocked", "gist.github.com", HTTPS},
	{"denied", "evil.example.net", HTTPS},
	{"denied-deep", "x.y.z.attacker.example.net", HTTP},
	{"upper-dot", "API.GitHub.com.", HTTPS},
	{"unicode", "bücher.example.de", HTTPS},
	{"raw-ip", "203.0.113.20", HTTPS},
}

func BenchmarkDecide(b *testing.B) {
	p := mustCompile(b, benchAllow, benchBlock)
	if n := len(benchAllow) + len(benchBlock); n != 50 {
		b.Fatalf("policy has %d entries, want 50", n)
	}
	for _, bh := range benchHosts {
		b.Run(bh.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = p.Decide(bh.host, bh.proto)
			}
		})
	}
}

func BenchmarkDecideParallel(b *testing.B) {
	p := mustCompile(b, benchAllow, benchBlock)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			bh := benchHosts[i%len(benchHosts)]
			_ = p.Decide(bh.host, bh.proto)
			i++
		}
	})
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(benchAllow, benchBlock); err != nil {
			b.Fatal(err)
		}
	}
}
