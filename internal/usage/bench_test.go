package usage

import (
	"bytes"
	"testing"
)

// makeMB grows a generator's piece count until its body reaches ~1 MB.
func makeMB(gen func(pieces []string) []byte) []byte {
	n := 64
	for {
		b := gen(textPieces(9, n))
		if len(b) >= 1<<20 {
			return b
		}
		n = n * (1 << 20) / len(b) * 11 / 10
	}
}

// benchTracker feeds body in 4 KiB writes, as the proxy's copy loop does.
// MB/s counts decoded bytes (plain), so compressed runs compare directly.
func benchTracker(b *testing.B, h func() *Tracker, body, plain []byte, wantFound bool) {
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		tr := h()
		for p := body; len(p) > 0; {
			n := min(4096, len(p))
			tr.Write(p[:n])
			p = p[n:]
		}
		if u := tr.Finish(); u.Found != wantFound {
			b.Fatalf("usage = %+v", u)
		}
	}
	if events := bytes.Count(plain, []byte("\n\n")) + bytes.Count(plain, []byte("\r\n\r\n")); events > 1 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(events), "ns/event")
	}
}

func BenchmarkTrackerSSE(b *testing.B) {
	oa := counts{in: 1000, out: 2000, cacheRead: 512}
	streams := []struct {
		name string
		body []byte
	}{
		{"openai-chat", makeMB(func(p []string) []byte { return openAIChatSSE("gpt-4o", oa, p) })},
		{"openai-responses", makeMB(func(p []string) []byte { return responsesSSE("gpt-5-codex", oa, p) })},
		{"anthropic", makeMB(func(p []string) []byte { return anthropicSSE("claude-sonnet-4-5", oa, p) })},
		{"gemini", makeMB(func(p []string) []byte { return geminiSSE("gemini-2.5-pro", oa, p) })},
	}
	for _, s := range streams {
		b.Run(s.name, func(b *testing.B) {
			benchTracker(b, func() *Tracker { return NewTracker("x", header("text/event-stream", "")) }, s.body, s.body, true)
		})
	}
	gz := encoders[1].enc(streams[2].body)
	b.Run("anthropic-gzip", func(b *testing.B) {
		benchTracker(b, func() *Tracker { return NewTracker("x", header("text/event-stream", "gzip")) }, gz, streams[2].body, true)
	})
}

func BenchmarkTrackerJSON(b *testing.B) {
	body := openAIChatJSON("gpt-4o", counts{in: 1, out: 2}, string(bytes.Repeat([]byte("lorem ipsum "), 90000)))
	benchTracker(b, func() *Tracker { return NewTracker("x", header("application/json", "")) }, body, body, true)
}

func BenchmarkWSTracker(b *testing.B) {
	for _, o := range []struct {
		name string
		opts wsOpts
	}{{"plain", wsOpts{}}, {"deflate-takeover", wsOpts{deflate: true, takeover: true}}} {
		// The same ~1 MB of messages either way; MB/s counts plain frames.
		var events []string
		plain := makeMB(func(p []string) []byte {
			events = responsesEvents("gpt-5-codex", counts{in: 1, out: 2}, p)
			return wsStream(events, wsOpts{})
		})
		body, msgs := wsStream(events, o.opts), len(events)
		b.Run(o.name, func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()
			for b.Loop() {
				tr := NewWSTracker("x")
				for p := body; len(p) > 0; {
					n := min(4096, len(p))
					tr.Write(p[:n])
					p = p[n:]
				}
				if u := tr.Finish(); !u.Found {
					b.Fatal("no usage")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(msgs), "ns/msg")
		})
	}
}
