package usage

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Usage is what one response reported. Counts are as the provider reported
// them: OpenAI and Gemini include cached tokens in InputTokens, Anthropic
// does not.
type Usage struct {
	Found            bool // some token count was reported
	Model            string
	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64
	CacheWriteTokens int64
}

// tokenCounts is the union of the OpenAI (chat, Responses, Realtime) and
// Anthropic "usage" objects. Pointers tell "absent or null" from zero.
type tokenCounts struct {
	InputTokens      *int64         `json:"input_tokens"`
	OutputTokens     *int64         `json:"output_tokens"`
	PromptTokens     *int64         `json:"prompt_tokens"`
	CompletionTokens *int64         `json:"completion_tokens"`
	CacheCreation    *int64         `json:"cache_creation_input_tokens"`
	CacheRead        *int64         `json:"cache_read_input_tokens"`
	PromptDetails    *cachedDetails `json:"prompt_tokens_details"`
	InputDetails     *cachedDetails `json:"input_tokens_details"`
	RealtimeDetails  *cachedDetails `json:"input_token_details"`
}

type cachedDetails struct {
	CachedTokens *int64 `json:"cached_tokens"`
}

type geminiCounts struct {
	Prompt     *int64 `json:"promptTokenCount"`
	ToolPrompt *int64 `json:"toolUsePromptTokenCount"`
	Candidates *int64 `json:"candidatesTokenCount"`
	Thoughts   *int64 `json:"thoughtsTokenCount"`
	Cached     *int64 `json:"cachedContentTokenCount"`
}

// envelope is an object that may carry a model and usage: the top level of
// a body or event, Anthropic's message_start "message", the Responses API
// "response", the Realtime API "session".
type envelope struct {
	Model         string        `json:"model"`
	ModelVersion  string        `json:"modelVersion"`
	Usage         *tokenCounts  `json:"usage"`
	UsageMetadata *geminiCounts `json:"usageMetadata"`
}

type event struct {
	envelope
	Message  *envelope `json:"message"`
	Response *envelope `json:"response"`
	Session  *envelope `json:"session"`
}

// accum merges the events of one response.
type accum struct {
	u Usage
}

var (
	keyUsage = []byte(`"usage`) // also matches "usageMetadata"
	keyModel = []byte(`"model`) // also matches "modelVersion"
	doneMsg  = []byte("[DONE]")
)

// event handles one SSE event, ndjson line or WebSocket message. It parses
// JSON only when the bytes may carry usage or a model still unknown.
func (a *accum) event(data []byte) {
	if !mayCarry(data, a.u.Model == "") || bytes.Equal(data, doneMsg) {
		return
	}
	a.parse(data)
}

// mayCarry is the cheap pre-filter: true when data has a usage key (or,
// when needModel, a model key) whose value is not null. False positives
// only cost a parse.
func mayCarry(d []byte, needModel bool) bool {
	return hasKey(d, keyUsage) || needModel && hasKey(d, keyModel)
}

// hasKey reports whether d contains an object key starting with prefix
// (`"usage` matches "usage" and "usageMetadata") with a non-null value.
// A match preceded by a backslash is text inside a string, such as model
// output quoting JSON, and does not count.
func hasKey(d, prefix []byte) bool {
	for {
		i := bytes.Index(d, prefix)
		if i < 0 {
			return false
		}
		escaped := i > 0 && d[i-1] == '\\'
		d = d[i+len(prefix):]
		if escaped {
			continue
		}
		j := bytes.IndexByte(d, '"')
		if j < 0 {
			return false
		}
		d = skipSpace(d[j+1:])
		if len(d) == 0 || d[0] != ':' {
			continue // a string value, not a key
		}
		d = skipSpace(d[1:])
		if len(d) == 0 || d[0] != 'n' {
			return true
		}
	}
}

func skipSpace(d []byte) []byte {
	for len(d) > 0 && (d[0] == ' ' || d[0] == '\t' || d[0] == '\n' || d[0] == '\r') {
		d = d[1:]
	}
	return d
}

// parse applies one JSON object. Invalid JSON is ignored; a field of an
// unexpected type is skipped by encoding/json while the rest still apply.
func (a *accum) parse(data []byte) {
	var ev event
	if err := json.Unmarshal(data, &ev); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return
		}
	}
	for _, e := range [...]*envelope{&ev.envelope, ev.Message, ev.Response, ev.Session} {
		if e == nil {
			continue
		}
		if a.u.Model == "" {
			if e.Model != "" {
				a.u.Model = e.Model
			} else if e.ModelVersion != "" {
				a.u.Model = e.ModelVersion
			}
		}
		a.applyCounts(e.Usage)
		a.applyGemini(e.UsageMetadata)
	}
}

// parseBody handles a whole non-streamed body: one object, or a JSON array
// of them (Gemini streamGenerateContent without alt=sse).
func (a *accum) parseBody(b []byte) {
	b = skipSpace(b)
	if len(b) == 0 {
		return
	}
	if b[0] != '[' {
		a.parse(b)
		return
	}
	var items []json.RawMessage
	if json.Unmarshal(b, &items) != nil {
		return
	}
	for _, it := range items {
		a.parse(it)
	}
}

func (a *accum) applyCounts(c *tokenCounts) {
	if c == nil {
		return
	}
	a.set(&a.u.InputTokens, first(c.InputTokens, c.PromptTokens))
	a.set(&a.u.OutputTokens, first(c.OutputTokens, c.CompletionTokens))
	a.set(&a.u.CacheReadTokens, first(c.CacheRead, cached(c.PromptDetails), cached(c.InputDetails), cached(c.RealtimeDetails)))
	a.set(&a.u.CacheWriteTokens, c.CacheCreation)
}

func (a *accum) applyGemini(g *geminiCounts) {
	if g == nil {
		return
	}
	// Tool-use prompt tokens are billed as input and not part of promptTokenCount.
	a.set(&a.u.InputTokens, sum(g.Prompt, g.ToolPrompt))
	a.set(&a.u.OutputTokens, sum(g.Candidates, g.Thoughts))
	a.set(&a.u.CacheReadTokens, g.Cached)
}

func (a *accum) set(dst *int64, v *int64) {
	if v == nil || *v < 0 {
		return
	}
	*dst = *v
	a.u.Found = true
}

func first(vs ...*int64) *int64 {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

func cached(d *cachedDetails) *int64 {
	if d == nil {
		return nil
	}
	return d.CachedTokens
}

// sum adds the present values; nil when none is present.
func sum(vs ...*int64) *int64 {
	var total int64
	found := false
	for _, v := range vs {
		if v != nil && *v >= 0 {
			total += *v
			found = true
		}
	}
	if !found {
		return nil
	}
	return &total
}
