package guards

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"unicode/utf16"
)

// Blocked-request diagnostics (apiProxy.diagnostics.*): when a guard
// refuses a request, a record of the body's shape goes to
// blocked-request-diag.jsonl, so an operator can see what blew the budget
// (which message, which tool result). Off by default.
const (
	EnvCaptureBlocked  = "AWF_CAPTURE_BLOCKED_LLM_REQUESTS"
	EnvMaxCaptureBytes = "AWF_MAX_BLOCKED_CAPTURE_BYTES"
	DiagFile           = "blocked-request-diag.jsonl"
	DefaultMaxCapture  = 250000
)

// CaptureMode reads AWF_CAPTURE_BLOCKED_LLM_REQUESTS: "" (off), summary
// (counts, sizes, a hash: no content), redacted (plus 200-character
// previews) or full (plus the body up to the byte limit).
func CaptureMode(v string) string {
	switch strings.TrimSpace(v) {
	case "true", "1", "summary":
		return "summary"
	case "redacted":
		return "redacted"
	case "full":
		return "full"
	}
	return ""
}

// jsLen is a string's length as JavaScript counts it (UTF-16 units).
func jsLen(s string) int {
	n := 0
	for _, r := range s {
		n += max(1, len(utf16.Encode([]rune{r})))
	}
	return n
}

func jsPrefix(s string, n int) string {
	u := utf16.Encode([]rune(s))
	if len(u) > n {
		u = u[:n]
	}
	return string(utf16.Decode(u))
}

// BodyShape describes a refused request's body in the original's record
// fields (body_bytes, body_sha256, model, streaming, message_count,
// tool_result_count, message_sizes, and body_full in full mode).
func BodyShape(body []byte, mode string, maxBytes int) map[string]any {
	out := map[string]any{"body_bytes": len(body), "body_sha256": nil}
	if len(body) == 0 {
		return out
	}
	sum := sha256.Sum256(body)
	out["body_sha256"] = hex.EncodeToString(sum[:])[:16]
	var parsed map[string]any
	if err := json.Unmarshal(body, &parsed); err != nil {
		out["parse_error"] = true
		return out
	}
	if parsed == nil {
		return out
	}
	if m, ok := parsed["model"].(string); ok {
		out["model"] = m
	}
	if parsed["stream"] == true {
		out["streaming"] = true
	}
	if mode == "full" {
		if maxBytes <= 0 {
			maxBytes = DefaultMaxCapture
		}
		out["body_full"] = string(body[:min(len(body), maxBytes)])
	}
	msgs, ok := parsed["messages"].([]any)
	if !ok {
		return out
	}
	count, tools := 0, 0
	sizes := []map[string]any{}
	for _, mv := range msgs {
		msg, ok := mv.(map[string]any)
		if !ok {
			continue
		}
		count++
		role, _ := msg["role"].(string)
		if role == "" {
			role = "unknown"
		}
		e := contentShape(msg["content"])
		e["role"] = role
		toolBlocks := 0
		if blocks, ok := msg["content"].([]any); ok {
			for _, b := range blocks {
				if bm, ok := b.(map[string]any); ok && bm["type"] == "tool_result" {
					toolBlocks++
				}
			}
		}
		tools += toolBlocks
		if role == "tool" {
			tools++
		}
		if toolBlocks > 0 {
			e["tool_blocks"] = toolBlocks
		}
		if mode == "redacted" || mode == "full" {
			if p := preview(msg["content"]); p != "" {
				e["content_preview"] = p
			}
		}
		sizes = append(sizes, e)
	}
	out["message_count"], out["tool_result_count"], out["message_sizes"] = count, tools, sizes
	return out
}

func contentShape(c any) map[string]any {
	switch v := c.(type) {
	case string:
		n := jsLen(v)
		return map[string]any{"content_type": "text", "chars": n, "bytes": len(v), "estimated_tokens": (n + 3) / 4}
	case []any:
		chars, bytes, tokens := 0, 0, 0
		types := map[string]bool{}
		add := func(s string) {
			n := jsLen(s)
			chars, bytes, tokens = chars+n, bytes+len(s), tokens+(n+3)/4
		}
		for _, b := range v {
			bm, ok := b.(map[string]any)
			if !ok {
				continue
			}
			t, _ := bm["type"].(string)
			if t == "" {
				t = "unknown"
			}
			types[t] = true
			if s, ok := bm["text"].(string); ok {
				add(s)
			}
			switch inner := bm["content"].(type) {
			case string:
				add(inner)
			case []any:
				for _, ib := range inner {
					if im, ok := ib.(map[string]any); ok {
						if s, ok := im["text"].(string); ok {
							add(s)
						}
					}
				}
			}
			if src, ok := bm["source"].(map[string]any); ok {
				if d, ok := src["data"].(string); ok {
					bytes += (len(d)*3 + 3) / 4
				}
			}
		}
		names := make([]string, 0, len(types))
		for t := range types {
			names = append(names, t)
		}
		sort.Strings(names)
		ct := strings.Join(names, ",")
		if ct == "" {
			ct = "mixed"
		}
		return map[string]any{"content_type": ct, "chars": chars, "bytes": bytes, "estimated_tokens": tokens}
	}
	return map[string]any{"content_type": "unknown", "chars": 0, "bytes": 0, "estimated_tokens": 0}
}

func preview(c any) string {
	switch v := c.(type) {
	case string:
		return jsPrefix(v, 200)
	case []any:
		var parts []string
		for _, b := range v {
			bm, ok := b.(map[string]any)
			if !ok {
				continue
			}
			if s, ok := bm["text"].(string); ok {
				parts = append(parts, jsPrefix(s, 100))
			} else if s, ok := bm["content"].(string); ok {
				parts = append(parts, jsPrefix(s, 100))
			}
		}
		return jsPrefix(strings.Join(parts, " "), 200)
	}
	return ""
}
