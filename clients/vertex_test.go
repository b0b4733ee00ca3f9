package clients

import (
	"net/http"
	"regexp"
	"slices"
	"testing"

	"github.com/awf-dev/awf/internal/fakeprovider"
)

// vertex is Vertex AI on port 10004: GOOGLE_API_KEY on the host, the
// placeholder and GOOGLE_VERTEX_BASE_URL in the sandbox.
var vertex = provider{name: "vertex", host: "aiplatform.googleapis.com", keyEnv: "GOOGLE_API_KEY", keyPfx: "AIzaSy",
	newFake:    fakeprovider.NewGemini,
	credential: func(h http.Header) string { return h.Get("X-Goog-Api-Key") }, injected: []string{"X-Request-Id"}}

// TestVertexSDK: the official @google/genai SDK in Vertex express mode
// completes a JSON and a streaming call through the api-proxy's Vertex
// port, holding only the placeholder; usage is recorded for "vertex".
func TestVertexSDK(t *testing.T) {
	requireClients(t)
	for _, m := range []struct {
		mode, gen string
		stream    bool
	}{{"generate", ":generateContent", false}, {"generate-stream", ":streamGenerateContent", true}} {
		c := clientCase{name: "genai-vertex/" + m.mode, prov: vertex, stream: m.stream, wantGen: m.gen, cmd: "node sdk/genai-vertex.mjs " + m.mode}
		t.Run(c.name, func(t *testing.T) {
			r := runClient(t, c)
			r.check(t, c)
			if m := regexp.MustCompile(`(?m)^AWF_KEY_SEEN=(.*)$`).FindStringSubmatch(r.stdout); m == nil || !slices.Contains(placeholders, m[1]) {
				t.Errorf("the SDK did not report holding a placeholder: %q", m)
			}
			if !regexp.MustCompile(`(?m)^AWF_BASE_URL=http://172\.30\.0\.30:10004$`).MatchString(r.stdout) {
				t.Errorf("GOOGLE_VERTEX_BASE_URL not the api-proxy: %s", grepLines(r.stdout, "AWF_BASE_URL"))
			}
		})
	}
}
