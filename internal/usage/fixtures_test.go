package usage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Fixtures reproduce the wire shapes of the providers' APIs (field order,
// nulls, framing) from parameters, so expectations are derived, not typed in.

// q encodes a JSON string.
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// counts are the parameters of one response's usage.
type counts struct {
	in, out, cacheRead, cacheWrite, thoughts int64
}

// textPieces returns n chunks of model output, including text that looks
// like the keys and framing the parser looks for.
func textPieces(seed uint64, n int) []string {
	words := []string{"Hello", " world", ",", " the", " usage", " model", "\n\n", " data: ",
		` {"usage":{"input_tokens":999999}}`, " \"model\": \"fake\"", " 日本語", " [DONE]", "\r\n", " ok"}
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]string, n)
	for i := range out {
		out[i] = words[r.IntN(len(words))]
	}
	return out
}

func sseEvent(b *strings.Builder, name, data string) {
	if name != "" {
		fmt.Fprintf(b, "event: %s\n", name)
	}
	fmt.Fprintf(b, "data: %s\n\n", data)
}

func openAIChatUsage(c counts) string {
	return fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"prompt_tokens_details":{"cached_tokens":%d,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":%d,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`,
		c.in, c.out, c.in+c.out, c.cacheRead, c.thoughts)
}

func openAIChatJSON(model string, c counts, text string) []byte {
	compact := fmt.Sprintf(`{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":%s,"choices":[{"index":0,"message":{"role":"assistant","content":%s,"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":%s,"service_tier":"default","system_fingerprint":"fp_f5bdcc3276"}`,
		q(model), q(text), openAIChatUsage(c))
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(compact), "", "  "); err != nil {
		panic(err)
	}
	return append(out.Bytes(), '\n')
}

// openAIChatSSE is a stream with stream_options.include_usage: every chunk
// has "usage":null and a final chunk with empty choices carries the usage.
func openAIChatSSE(model string, c counts, pieces []string) []byte {
	var b strings.Builder
	chunk := func(delta, finish string) {
		sseEvent(&b, "", fmt.Sprintf(`{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":%s,"service_tier":"default","system_fingerprint":"fp_eb9dce56a8","choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}],"usage":null}`,
			q(model), delta, finish))
	}
	chunk(`{"role":"assistant","content":"","refusal":null}`, "null")
	for _, p := range pieces {
		chunk(fmt.Sprintf(`{"content":%s}`, q(p)), "null")
	}
	chunk(`{}`, `"stop"`)
	sseEvent(&b, "", fmt.Sprintf(`{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":%s,"service_tier":"default","system_fingerprint":"fp_eb9dce56a8","choices":[],"usage":%s}`,
		q(model), openAIChatUsage(c)))
	sseEvent(&b, "", "[DONE]")
	return []byte(b.String())
}

func responsesUsage(c counts) string {
	return fmt.Sprintf(`{"input_tokens":%d,"input_tokens_details":{"cached_tokens":%d},"output_tokens":%d,"output_tokens_details":{"reasoning_tokens":%d},"total_tokens":%d}`,
		c.in, c.cacheRead, c.out, c.thoughts, c.in+c.out)
}

func responsesObject(model, status, usage string, output string) string {
	return fmt.Sprintf(`{"id":"resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b","object":"response","created_at":1741476542,"status":%s,"background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"model":%s,"output":[%s],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":true,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":%s,"user":null,"metadata":{}}`,
		q(status), q(model), output, usage)
}

func responsesMessage(text string) string {
	return fmt.Sprintf(`{"type":"message","id":"msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b","status":"completed","role":"assistant","content":[{"type":"output_text","text":%s,"annotations":[]}]}`, q(text))
}

func responsesJSON(model string, c counts, text string) []byte {
	return []byte(responsesObject(model, "completed", responsesUsage(c), responsesMessage(text)))
}

// responsesEvents is the event sequence of a streamed Responses API call,
// as sent over SSE (with event: lines) or as WebSocket messages (Codex).
func responsesEvents(model string, c counts, pieces []string) []string {
	seq := 0
	var evs []string
	add := func(format string, args ...any) {
		evs = append(evs, fmt.Sprintf(format, append([]any{seq}, args...)...))
		seq++
	}
	add(`{"type":"response.created","sequence_number":%d,"response":%s}`, responsesObject(model, "in_progress", "null", ""))
	add(`{"type":"response.in_progress","sequence_number":%d,"response":%s}`, responsesObject(model, "in_progress", "null", ""))
	add(`{"type":"response.output_item.added","sequence_number":%d,"output_index":0,"item":{"id":"msg_67c","type":"message","status":"in_progress","content":[],"role":"assistant"}}`)
	add(`{"type":"response.content_part.added","sequence_number":%d,"item_id":"msg_67c","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],"text":""}}`)
	for _, p := range pieces {
		add(`{"type":"response.output_text.delta","sequence_number":%d,"item_id":"msg_67c","output_index":0,"content_index":0,"delta":%s,"logprobs":[]}`, q(p))
	}
	text := strings.Join(pieces, "")
	add(`{"type":"response.output_text.done","sequence_number":%d,"item_id":"msg_67c","output_index":0,"content_index":0,"text":%s,"logprobs":[]}`, q(text))
	add(`{"type":"response.output_item.done","sequence_number":%d,"output_index":0,"item":%s}`, responsesMessage(text))
	add(`{"type":"response.completed","sequence_number":%d,"response":%s}`, responsesObject(model, "completed", responsesUsage(c), responsesMessage(text)))
	return evs
}

func responsesSSE(model string, c counts, pieces []string) []byte {
	var b strings.Builder
	for _, ev := range responsesEvents(model, c, pieces) {
		var head struct{ Type string }
		_ = json.Unmarshal([]byte(ev), &head)
		sseEvent(&b, head.Type, ev)
	}
	return []byte(b.String())
}

func anthropicUsage(c counts, out int64) string {
	return fmt.Sprintf(`{"input_tokens":%d,"cache_creation_input_tokens":%d,"cache_read_input_tokens":%d,"cache_creation":{"ephemeral_5m_input_tokens":%d,"ephemeral_1h_input_tokens":0},"output_tokens":%d,"service_tier":"standard"}`,
		c.in, c.cacheWrite, c.cacheRead, c.cacheWrite, out)
}

func anthropicJSON(model string, c counts, text string) []byte {
	return []byte(fmt.Sprintf(`{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":%s,"content":[{"type":"text","text":%s}],"stop_reason":"end_turn","stop_sequence":null,"usage":%s}`,
		q(model), q(text), anthropicUsage(c, c.out)))
}

// anthropicSSE follows the messages streaming protocol, ping included;
// message_start reports output_tokens 1, message_delta the final count.
func anthropicSSE(model string, c counts, pieces []string) []byte {
	var b strings.Builder
	sseEvent(&b, "message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":%s,"content":[],"stop_reason":null,"stop_sequence":null,"usage":%s}}`,
		q(model), anthropicUsage(c, 1)))
	sseEvent(&b, "content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
	sseEvent(&b, "ping", `{"type": "ping"}`)
	for _, p := range pieces {
		sseEvent(&b, "content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":%s}}`, q(p)))
	}
	sseEvent(&b, "content_block_stop", `{"type":"content_block_stop","index":0}`)
	sseEvent(&b, "message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":%d}}`, c.out))
	sseEvent(&b, "message_stop", `{"type":"message_stop"}`)
	return []byte(b.String())
}

func geminiChunk(model, text string, c counts, final bool) string {
	usage := fmt.Sprintf(`{"promptTokenCount": %d,"totalTokenCount": %d,"promptTokensDetails": [{"modality": "TEXT","tokenCount": %d}]}`, c.in, c.in, c.in)
	finish := ""
	if final {
		finish = `,"finishReason": "STOP"`
		usage = fmt.Sprintf(`{"promptTokenCount": %d,"candidatesTokenCount": %d,"totalTokenCount": %d,"cachedContentTokenCount": %d,"promptTokensDetails": [{"modality": "TEXT","tokenCount": %d}],"thoughtsTokenCount": %d}`,
			c.in, c.out, c.in+c.out+c.thoughts, c.cacheRead, c.in, c.thoughts)
	}
	return fmt.Sprintf(`{"candidates": [{"content": {"parts": [{"text": %s}],"role": "model"}%s,"index": 0}],"usageMetadata": %s,"modelVersion": %s,"responseId": "mKqJaL2BLJ2Yz7IPkLzc6AM"}`,
		q(text), finish, usage, q(model))
}

// geminiSSE is streamGenerateContent?alt=sse: CRLF framing, usageMetadata
// in every chunk, running totals, the last one complete.
func geminiSSE(model string, c counts, pieces []string) []byte {
	var b strings.Builder
	for i, p := range pieces {
		fmt.Fprintf(&b, "data: %s\r\n\r\n", geminiChunk(model, p, c, i == len(pieces)-1))
	}
	return []byte(b.String())
}

// geminiArray is streamGenerateContent without alt=sse: one JSON array.
func geminiArray(model string, c counts, pieces []string) []byte {
	var b strings.Builder
	b.WriteString("[")
	for i, p := range pieces {
		if i > 0 {
			b.WriteString(",\r\n")
		}
		b.WriteString(geminiChunk(model, p, c, i == len(pieces)-1))
	}
	b.WriteString("]")
	return []byte(b.String())
}

func geminiJSON(model string, c counts, text string) []byte {
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(geminiChunk(model, text, c, true)), "", "  "); err != nil {
		panic(err)
	}
	return out.Bytes()
}

type fixture struct {
	name        string
	contentType string
	body        []byte
	streaming   bool
	want        Usage
}

// fixtures covers every provider shape, JSON and streamed, with the usage
// each should yield under the package's mapping rules.
func fixtures() []fixture {
	pieces := textPieces(7, 40)
	text := strings.Join(pieces, "")
	oa := counts{in: 1117, out: 258, cacheRead: 1024, thoughts: 64}
	an := counts{in: 472, out: 315, cacheRead: 20480, cacheWrite: 1536}
	ge := counts{in: 905, out: 211, cacheRead: 512, thoughts: 977}
	openAIWant := Usage{Found: true, InputTokens: oa.in, OutputTokens: oa.out, CacheReadTokens: oa.cacheRead, ReasoningTokens: oa.thoughts}
	anWant := Usage{Found: true, InputTokens: an.in, OutputTokens: an.out, CacheReadTokens: an.cacheRead, CacheWriteTokens: an.cacheWrite}
	geWant := Usage{Found: true, InputTokens: ge.in, OutputTokens: ge.out + ge.thoughts, CacheReadTokens: ge.cacheRead}
	with := func(u Usage, model string) Usage { u.Model = model; return u }
	const sse, js = "text/event-stream; charset=utf-8", "application/json"
	return []fixture{
		{"openai-chat-json", js, openAIChatJSON("gpt-4.1-2025-04-14", oa, text), false, with(openAIWant, "gpt-4.1-2025-04-14")},
		{"openai-chat-sse", sse, openAIChatSSE("gpt-4o-2024-08-06", oa, pieces), true, with(openAIWant, "gpt-4o-2024-08-06")},
		{"openai-responses-json", js, responsesJSON("o4-mini-2025-04-16", oa, text), false, with(openAIWant, "o4-mini-2025-04-16")},
		{"openai-responses-sse", "text/event-stream", responsesSSE("gpt-5-codex", oa, pieces), true, with(openAIWant, "gpt-5-codex")},
		{"anthropic-json", js, anthropicJSON("claude-sonnet-4-5-20250929", an, text), false, with(anWant, "claude-sonnet-4-5-20250929")},
		{"anthropic-sse", "text/event-stream", anthropicSSE("claude-opus-4-1-20250805", an, pieces), true, with(anWant, "claude-opus-4-1-20250805")},
		{"gemini-json", "application/json; charset=UTF-8", geminiJSON("gemini-2.5-pro", ge, text), false, with(geWant, "gemini-2.5-pro")},
		{"gemini-sse", "text/event-stream", geminiSSE("gemini-2.5-flash", ge, pieces), true, with(geWant, "gemini-2.5-flash")},
		{"gemini-array", "application/json; charset=UTF-8", geminiArray("gemini-2.5-flash-lite", ge, pieces), false, with(geWant, "gemini-2.5-flash-lite")},
		{"openai-chat-ndjson", "application/x-ndjson", ndjsonOf(openAIChatSSE("gpt-4o-mini", oa, pieces)), true, with(openAIWant, "gpt-4o-mini")},
	}
}

// ndjsonOf turns an SSE body into ndjson: one data payload per line.
func ndjsonOf(sse []byte) []byte {
	var b bytes.Buffer
	for line := range strings.SplitSeq(string(sse), "\n") {
		if v, ok := strings.CutPrefix(line, "data: "); ok && v != "[DONE]" {
			b.WriteString(v)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
