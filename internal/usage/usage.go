package usage

import "bytes"

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
	// ReasoningTokens is the part of OutputTokens spent reasoning (OpenAI
	// completion/output_tokens_details), which the effective-token budget
	// weighs again. Gemini's thoughts are already in OutputTokens.
	ReasoningTokens int64
}

// accum merges the events of one response.
type accum struct {
	u      Usage
	ev     wireEvent // reused: a wireEvent is large and would escape per event
	sc     scanner
	parsed int // events that passed the pre-filter
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

// parse applies one JSON object; malformed JSON is ignored.
func (a *accum) parse(data []byte) {
	a.parsed++
	if a.sc.decodeEvent(data, &a.ev) {
		a.apply(&a.ev)
	}
}

func (a *accum) apply(ev *wireEvent) {
	for _, e := range [...]*wireEnvelope{&ev.top, &ev.message, &ev.response, &ev.session} {
		if !e.has {
			continue
		}
		if a.u.Model == "" {
			if len(e.model) > 0 {
				a.u.Model = string(e.model)
			} else if len(e.modelVersion) > 0 {
				a.u.Model = string(e.modelVersion)
			}
		}
		if c := &e.usage; c.has {
			a.u.InputTokens = a.pick(a.u.InputTokens, first(c.input, c.prompt))
			a.u.OutputTokens = a.pick(a.u.OutputTokens, first(c.output, c.completion))
			a.u.CacheReadTokens = a.pick(a.u.CacheReadTokens, first(c.cacheRead, cached(c.promptDetails), cached(c.inputDetails), cached(c.rtDets)))
			a.u.CacheWriteTokens = a.pick(a.u.CacheWriteTokens, c.cacheCreation)
			a.u.ReasoningTokens = a.pick(a.u.ReasoningTokens, first(reasoning(c.completionDetails), reasoning(c.outputDetails)))
		}
		if g := &e.gemini; g.has {
			// Tool-use prompt tokens are billed as input and are not part
			// of promptTokenCount; thoughts are billed as output.
			a.u.InputTokens = a.pick(a.u.InputTokens, sum(g.prompt, g.toolPrompt))
			a.u.OutputTokens = a.pick(a.u.OutputTokens, sum(g.candidates, g.thoughts))
			a.u.CacheReadTokens = a.pick(a.u.CacheReadTokens, g.cached)
		}
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
	items, ok := arrayItems(b)
	if !ok {
		return
	}
	for _, it := range items {
		a.parse(it)
	}
}

// pick returns v when present and not negative, else old.
func (a *accum) pick(old int64, v optInt) int64 {
	if !v.ok || v.v < 0 {
		return old
	}
	a.u.Found = true
	return v.v
}

func first(vs ...optInt) optInt {
	for _, v := range vs {
		if v.ok {
			return v
		}
	}
	return optInt{}
}

func cached(d wireDetails) optInt {
	if !d.has {
		return optInt{}
	}
	return d.cached
}

func reasoning(d wireDetails) optInt {
	if !d.has {
		return optInt{}
	}
	return d.reasoning
}

// sum adds the present, non-negative values; absent when none is.
func sum(vs ...optInt) optInt {
	var total optInt
	for _, v := range vs {
		if v.ok && v.v >= 0 {
			total.v += v.v
			total.ok = true
		}
	}
	return total
}
