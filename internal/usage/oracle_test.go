package usage

import (
	"encoding/json"
	"errors"
)

// The reference decoder: the same mapping written against encoding/json,
// used by the differential fuzz test to check the hand-written scanner.

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
	CompletionDets   *cachedDetails `json:"completion_tokens_details"`
	OutputDets       *cachedDetails `json:"output_tokens_details"`
}

type cachedDetails struct {
	CachedTokens    *int64 `json:"cached_tokens"`
	ReasoningTokens *int64 `json:"reasoning_tokens"`
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

type stdAccum struct {
	u Usage
}

// parse applies one JSON object. Invalid JSON is ignored; a field of an
// unexpected type is skipped by encoding/json while the rest still apply.
func (a *stdAccum) parse(data []byte) (clean bool) {
	var ev event
	if err := json.Unmarshal(data, &ev); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return false
		}
		clean = false
	} else {
		clean = true
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
	return clean
}

// parseBody handles a whole non-streamed body: one object, or a JSON array
// of them (Gemini streamGenerateContent without alt=sse).
func (a *stdAccum) parseBody(b []byte) (clean bool) {
	b = skipSpace(b)
	if len(b) == 0 {
		return true
	}
	if b[0] != '[' {
		return a.parse(b)
	}
	var items []json.RawMessage
	if json.Unmarshal(b, &items) != nil {
		return false
	}
	clean = true
	for _, it := range items {
		clean = a.parse(it) && clean
	}
	return clean
}

func (a *stdAccum) applyCounts(c *tokenCounts) {
	if c == nil {
		return
	}
	a.set(&a.u.InputTokens, stdFirst(c.InputTokens, c.PromptTokens))
	a.set(&a.u.OutputTokens, stdFirst(c.OutputTokens, c.CompletionTokens))
	a.set(&a.u.CacheReadTokens, stdFirst(c.CacheRead, stdCached(c.PromptDetails), stdCached(c.InputDetails), stdCached(c.RealtimeDetails)))
	a.set(&a.u.CacheWriteTokens, c.CacheCreation)
	a.set(&a.u.ReasoningTokens, stdFirst(stdReasoning(c.CompletionDets), stdReasoning(c.OutputDets)))
}

func (a *stdAccum) applyGemini(g *geminiCounts) {
	if g == nil {
		return
	}
	// Tool-use prompt tokens are billed as input and not part of promptTokenCount.
	a.set(&a.u.InputTokens, stdSum(g.Prompt, g.ToolPrompt))
	a.set(&a.u.OutputTokens, stdSum(g.Candidates, g.Thoughts))
	a.set(&a.u.CacheReadTokens, g.Cached)
}

func (a *stdAccum) set(dst *int64, v *int64) {
	if v == nil || *v < 0 {
		return
	}
	*dst = *v
	a.u.Found = true
}

func stdFirst(vs ...*int64) *int64 {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

func stdCached(d *cachedDetails) *int64 {
	if d == nil {
		return nil
	}
	return d.CachedTokens
}

// sum adds the present values; nil when none is present.
func stdSum(vs ...*int64) *int64 {
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

func stdReasoning(d *cachedDetails) *int64 {
	if d == nil {
		return nil
	}
	return d.ReasoningTokens
}
