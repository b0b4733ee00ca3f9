// Package usage extracts LLM token usage from API responses as they stream
// past, without touching the bytes the client receives.
//
// The api-proxy tees each upstream response body into a Tracker (HTTP) or a
// WSTracker (the server-to-client half of a WebSocket after the 101). Both
// understand every shape the providers emit, whatever the port they arrive
// on, because Copilot and compatible gateways mix them:
//
//   - OpenAI chat completions: JSON "usage" with prompt_tokens,
//     completion_tokens, prompt_tokens_details.cached_tokens; SSE chunks, the
//     last of which carries usage when stream_options.include_usage is set.
//   - OpenAI Responses API: usage.input_tokens, output_tokens,
//     input_tokens_details.cached_tokens, in JSON or in the "response" object
//     of SSE/WebSocket events such as response.completed.
//   - Anthropic messages: usage.input_tokens, output_tokens,
//     cache_creation_input_tokens, cache_read_input_tokens; SSE message_start
//     (message.usage, message.model) and message_delta (usage.output_tokens).
//   - Gemini: usageMetadata.promptTokenCount, candidatesTokenCount (+
//     thoughtsTokenCount, counted as output), cachedContentTokenCount and
//     modelVersion, as JSON, as a JSON array (streamGenerateContent) or SSE.
//
// Bodies are recognised by Content-Type: text/event-stream is parsed
// incrementally event by event, ndjson line by line, anything else is
// buffered (up to a cap) and parsed as JSON at Finish when it starts like
// JSON. gzip, deflate, br and zstd bodies are decoded from a copy on a
// helper goroutine so Write stays a memcpy. On the SSE path, events that
// cannot carry usage or a not-yet-known model are skipped by a substring
// check before any JSON parsing.
//
// Within one response, token fields found later overwrite earlier ones (the
// streams report running totals); the model is the first one named.
//
// Log appends one JSON line per call to token-usage.jsonl, with the field
// names of the original Node sidecar, through a bounded queue that drops
// (and counts) rather than block the proxy.
package usage
