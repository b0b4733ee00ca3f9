package usage

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

var fuzzHeaders = []http.Header{
	header("text/event-stream", ""),
	header("application/json", ""),
	header("application/x-ndjson", ""),
	header("text/event-stream", "gzip"),
	header("application/json", "deflate"),
	header("text/event-stream", "br"),
	header("application/json", "zstd"),
	header("", ""),
}

// splitAt cuts data into pieces of a size derived from step, so the fuzzer
// explores split points as well as contents.
func splitAt(data []byte, step uint16) [][]byte {
	n := int(step%512) + 1
	var out [][]byte
	for len(data) > 0 {
		k := min(n, len(data))
		out = append(out, data[:k])
		data = data[k:]
	}
	return out
}

func FuzzTracker(f *testing.F) {
	for _, fx := range fixtures() {
		f.Add(fx.body[:min(len(fx.body), 4096)], uint8(0), uint16(7))
	}
	for i, enc := range encoders[1:6] {
		f.Add(enc.enc(anthropicSSE("m", counts{in: 1, out: 2}, []string{"x"})), uint8(3+i), uint16(100))
	}
	f.Add([]byte("data: {\"usage\":{\"input_tokens\":1}}\r\r\n\n"), uint8(0), uint16(1))
	small := limits{maxBody: 4096, maxEvent: 1024, maxPending: 8192, maxDecoded: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte, kind uint8, step uint16) {
		h := fuzzHeaders[int(kind)%len(fuzzHeaders)]
		for _, lim := range []limits{defaultLimits, small} {
			tr := newTracker("fuzz", h, lim)
			feedAll(t, tr, splitAt(data, step))
			u := tr.Finish()
			if u.InputTokens < 0 || u.OutputTokens < 0 || u.CacheReadTokens < 0 || u.CacheWriteTokens < 0 {
				t.Fatalf("negative count: %+v", u)
			}
			if !u.Found && (u.InputTokens|u.OutputTokens|u.CacheReadTokens|u.CacheWriteTokens) != 0 {
				t.Fatalf("counts without Found: %+v", u)
			}
		}
	})
}

func FuzzWSTracker(f *testing.F) {
	msgs := responsesEvents("gpt-5-codex", counts{in: 5, out: 6}, []string{"a", "b"})
	f.Add(wsStream(msgs, wsOpts{}), uint16(3))
	f.Add(wsStream(msgs, wsOpts{mask: true, fragment: 9, interject: true}), uint16(1))
	f.Add(wsStream(msgs, wsOpts{deflate: true, takeover: true, http101: true}), uint16(50))
	f.Add([]byte{0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, step uint16) {
		tr := NewWSTracker("fuzz")
		feedAll(t, tr, splitAt(data, step))
		u := tr.Finish()
		if u.InputTokens < 0 || u.OutputTokens < 0 {
			t.Fatalf("negative count: %+v", u)
		}
	})
}

// FuzzScanMatchesStd checks the hand-written scanner against the same
// mapping decoded by encoding/json: on every valid JSON input that decodes
// without type errors the results must be equal, and the scanner must
// never reject valid JSON.
func FuzzScanMatchesStd(f *testing.F) {
	for _, fx := range fixtures() {
		if !fx.streaming {
			f.Add(fx.body)
			continue
		}
		for _, line := range bytes.Split(fx.body, []byte("\n")) {
			if v, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
				f.Add(bytes.TrimSpace(v))
			}
		}
	}
	for _, s := range []string{
		`{"usage":{"input_tokens":1},"usage":{"output_tokens":2}}`,
		`{"usage":{"input_tokens":1},"usage":null,"usage":{"output_tokens":2}}`,
		`{"USAGE":{"Input_Tokens":3},"Model":"x"}`,
		`{"us\u0061ge":{"input_tokens":4},"mod\u0065l":"\u00e9\ud83d\ude00"}`,
		"{\"model\":\"\xff\xfe\",\"usage\":{\"prompt_tokens\":1}}",
		`{"usage":{"input_tokens":1.5,"output_tokens":-3,"prompt_tokens":99999999999999999999}}`,
		`{"message":"text","response":{"model":"r"},"session":null}`,
		`[{"usageMetadata":{"promptTokenCount":1}},{"modelVersion":"g"}]`,
		`{"uſage":{"input_tokens":5}}`,
		`{"a":[{"b":"]"}],"usage":{"input_tokens":6}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var std stdAccum
		clean := std.parseBody(data)
		var got accum
		got.parseBody(data)
		if clean && json.Valid(data) && got.u != std.u {
			t.Fatalf("scanner %+v\nstdlib  %+v", got.u, std.u)
		}
		if json.Valid(data) {
			s := skipSpace(data)
			var ev wireEvent
			if len(s) > 0 && s[0] == '[' {
				if _, ok := arrayItems(data); !ok {
					t.Fatal("arrayItems rejected valid JSON")
				}
			} else if !decodeEvent(data, &ev) {
				t.Fatal("decodeEvent rejected valid JSON")
			}
		}
	})
}
