package usage

import (
	"encoding/base64"
	"net/http"
	"testing"
)

// TestBedrockEventStream: ConverseStream's metadata event and
// InvokeModelWithResponseStream's wrapped Anthropic chunks yield usage,
// whatever the write boundaries; a corrupted frame stops tracking.
func TestBedrockEventStream(t *testing.T) {
	ev := func(typ, payload string) []byte {
		return EncodeEventStreamMessage(map[string]string{":event-type": typ, ":message-type": "event", ":content-type": "application/json"}, []byte(payload))
	}
	wrap := func(s string) string {
		return `{"bytes":"` + base64.StdEncoding.EncodeToString([]byte(s)) + `","p":"abc"}`
	}
	converse := append(append(append([]byte{}, ev("messageStart", `{"role":"assistant"}`)...),
		ev("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"hi"}}`)...),
		ev("metadata", `{"usage":{"inputTokens":21,"outputTokens":9,"totalTokens":30,"cacheReadInputTokens":4},"metrics":{"latencyMs":10}}`)...)
	invoke := append(append([]byte{}, ev("chunk", wrap(`{"type":"message_start","message":{"model":"claude-sonnet-4","usage":{"input_tokens":21,"output_tokens":1}}}`))...),
		ev("chunk", wrap(`{"type":"message_delta","usage":{"output_tokens":9}}`))...)
	h := http.Header{"Content-Type": {MediaEventStream}}
	for name, body := range map[string][]byte{"converse-stream": converse, "invoke-with-response-stream": invoke} {
		for _, step := range []int{1, 7, len(body)} {
			tr := NewTracker("openai", h)
			for i := 0; i < len(body); i += step {
				tr.Write(body[i:min(i+step, len(body))])
			}
			u := tr.Finish()
			if !u.Found || u.InputTokens != 21 || u.OutputTokens != 9 || !tr.Streaming() {
				t.Errorf("%s step %d: %+v", name, step, u)
			}
		}
	}
	bad := append([]byte{}, converse...)
	bad[len(bad)-1] ^= 0xff // the last message's CRC
	tr := NewTracker("openai", h)
	tr.Write(bad)
	if u := tr.Finish(); u.Found {
		t.Errorf("corrupted frame counted: %+v", u)
	}
}
