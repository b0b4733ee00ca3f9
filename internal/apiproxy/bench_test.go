package apiproxy

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkRoundTrip is one small request through the proxy, the CONNECT
// proxy and the TLS upstream, all in this process (for profiling; the
// numbers to quote come from bench/apiproxy, which runs the real binary).
func BenchmarkRoundTrip(b *testing.B) {
	r := newRigB(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(r.urls["openai"] + "/v1/models")
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

func newRigB(b *testing.B) *rig {
	small := []byte(`{"object":"list","data":[{"id":"gpt-5","object":"model"}]}`)
	return newRig(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(small)
	}))
}
