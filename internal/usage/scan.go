package usage

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// A small JSON reader that decodes only the fields usage needs and skips
// the rest without building anything: encoding/json validates and reflects
// over every byte, which made events that do carry usage (every Gemini
// chunk, the large response.completed) the dominant cost of tracking.
//
// It follows encoding/json's semantics for the fields it reads (keys match
// case-insensitively, null resets a pointer, a value of the wrong type
// leaves the field alone, a repeated object merges), which a differential
// fuzz test checks against the encoding/json decoder on valid input. It is
// strict about structure (brackets, commas, colons, string ends, trailing
// bytes), so truncated or garbled events are rejected, and lenient about
// token spelling inside skipped values.

type optInt struct {
	v  int64
	ok bool
}

type wireDetails struct {
	has       bool
	cached    optInt
	reasoning optInt
}

type wireCounts struct {
	has                                 bool
	input, output, prompt, completion   optInt
	cacheCreation, cacheRead            optInt
	promptDetails, inputDetails, rtDets wireDetails
	completionDetails, outputDetails    wireDetails // reasoning_tokens
}

type wireGemini struct {
	has                                              bool
	prompt, toolPrompt, candidates, thoughts, cached optInt
}

// wireEnvelope is an object that may name a model and carry usage.
type wireEnvelope struct {
	has                 bool
	model, modelVersion []byte
	usage               wireCounts
	gemini              wireGemini
}

// wireEvent is one event: its top level and the nested objects that carry
// usage in Anthropic (message), Responses (response) and Realtime (session).
type wireEvent struct {
	top, message, response, session wireEnvelope
}

var (
	kModel, kModelVersion = []byte("model"), []byte("modelVersion")
	kUsage, kUsageMeta    = []byte("usage"), []byte("usageMetadata")
	kMessage, kResponse   = []byte("message"), []byte("response")
	kSession              = []byte("session")
	kInput, kOutput       = []byte("input_tokens"), []byte("output_tokens")
	kPrompt, kCompletion  = []byte("prompt_tokens"), []byte("completion_tokens")
	kCacheCreation        = []byte("cache_creation_input_tokens")
	kCacheRead            = []byte("cache_read_input_tokens")
	kPromptDetails        = []byte("prompt_tokens_details")
	kInputDetails         = []byte("input_tokens_details")
	kRealtimeDetails      = []byte("input_token_details")
	kCached               = []byte("cached_tokens")
	kReasoning            = []byte("reasoning_tokens")
	kCompletionDetails    = []byte("completion_tokens_details")
	kOutputDetails        = []byte("output_tokens_details")
	// Bedrock Converse (camelCase; input excludes cache, as Anthropic).
	kBInput, kBOutput         = []byte("inputTokens"), []byte("outputTokens")
	kBCacheRead, kBCacheWrite = []byte("cacheReadInputTokens"), []byte("cacheWriteInputTokens")
	kGPrompt                  = []byte("promptTokenCount")
	kGToolPrompt              = []byte("toolUsePromptTokenCount")
	kGCandidates              = []byte("candidatesTokenCount")
	kGThoughts                = []byte("thoughtsTokenCount")
	kGCached                  = []byte("cachedContentTokenCount")
)

const maxDepth = 10000 // as encoding/json

type scanner struct {
	d     []byte
	i     int
	stack []byte // open brackets of a skipped value
}

// decodeEvent decodes one JSON text into ev. It reports false for
// malformed input; ev is then meaningless.
func decodeEvent(d []byte, ev *wireEvent) bool {
	var s scanner
	return s.decodeEvent(d, ev)
}

// decodeEvent is decodeEvent with a reusable scanner (it escapes to the
// heap through the generic field callbacks).
func (s *scanner) decodeEvent(d []byte, ev *wireEvent) bool {
	s.d, s.i = d, 0
	*ev = wireEvent{}
	s.ws()
	if s.peek() == '{' {
		ev.top.has = true
		if !object(s, ev, eventField) {
			return false
		}
	} else if !s.skip() { // valid JSON of another type carries nothing
		return false
	}
	s.ws()
	return s.i == len(s.d)
}

func (s *scanner) ws() {
	for s.i < len(s.d) {
		switch s.d[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.d) {
		return s.d[s.i]
	}
	return 0
}

// str consumes a string at s.i (which is '"') and returns its raw bytes.
func (s *scanner) str() (raw []byte, ok bool) {
	start := s.i + 1
	for j := start; ; {
		k := bytes.IndexByte(s.d[j:], '"')
		if k < 0 {
			return nil, false
		}
		k += j
		n := 0
		for p := k - 1; p >= start && s.d[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			s.i = k + 1
			return s.d[start:k], true
		}
		j = k + 1
	}
}

// unquote returns the value of a string's raw bytes, taking the slow path
// only for escapes or invalid UTF-8 (which encoding/json replaces).
func unquote(raw []byte) ([]byte, bool) {
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return raw, true
	}
	var v string
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	if json.Unmarshal(q, &v) != nil {
		return nil, false
	}
	return []byte(v), true
}

// literal consumes a number, true, false or null.
func (s *scanner) literal() []byte {
	start := s.i
	for s.i < len(s.d) {
		c := s.d[s.i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '+' || c == '.' {
			s.i++
			continue
		}
		break
	}
	return s.d[start:s.i]
}

// skip consumes any value.
func (s *scanner) skip() bool {
	switch s.peek() {
	case '"':
		_, ok := s.str()
		return ok
	case '{', '[':
		return s.skipNested()
	case 0:
		return false
	default:
		return len(s.literal()) > 0
	}
}

// skipNested consumes an object or array, checking bracket pairing and
// string ends but not separators.
func (s *scanner) skipNested() bool {
	s.stack = s.stack[:0]
	for s.i < len(s.d) {
		switch c := s.d[s.i]; c {
		case '"':
			if _, ok := s.str(); !ok {
				return false
			}
			continue
		case '{', '[':
			if len(s.stack) >= maxDepth {
				return false
			}
			s.stack = append(s.stack, c+2) // '{'+2 == '}', '['+2 == ']'
		case '}', ']':
			if len(s.stack) == 0 || s.stack[len(s.stack)-1] != c {
				return false
			}
			s.stack = s.stack[:len(s.stack)-1]
			if len(s.stack) == 0 {
				s.i++
				return true
			}
		}
		s.i++
	}
	return false
}

// object consumes an object at s.i, calling field for each member with the
// scanner positioned at the value; field must consume the value.
func object[T any](s *scanner, dst *T, field func(*scanner, *T, []byte) bool) bool {
	s.i++ // '{'
	s.ws()
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		s.ws()
		if s.peek() != '"' {
			return false
		}
		raw, ok := s.str()
		if !ok {
			return false
		}
		key, ok := unquote(raw)
		if !ok {
			return false
		}
		s.ws()
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.ws()
		if !field(s, dst, key) {
			return false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

func is(key, name []byte) bool { return bytes.EqualFold(key, name) }

func eventField(s *scanner, ev *wireEvent, key []byte) bool {
	switch {
	case is(key, kMessage):
		return s.envelopePtr(&ev.message)
	case is(key, kResponse):
		return s.envelopePtr(&ev.response)
	case is(key, kSession):
		return s.envelopePtr(&ev.session)
	}
	return envelopeField(s, &ev.top, key)
}

func envelopeField(s *scanner, e *wireEnvelope, key []byte) bool {
	switch {
	case is(key, kModel):
		return s.stringField(&e.model)
	case is(key, kModelVersion):
		return s.stringField(&e.modelVersion)
	case is(key, kUsage):
		return objectPtr(s, &e.usage, &e.usage.has, countsField)
	case is(key, kUsageMeta):
		return objectPtr(s, &e.gemini, &e.gemini.has, geminiField)
	}
	return s.skip()
}

func (s *scanner) envelopePtr(e *wireEnvelope) bool {
	return objectPtr(s, e, &e.has, envelopeField)
}

// objectPtr decodes into a struct reached through a pointer in the
// encoding/json model: null clears it, an object fills it (merging with a
// previous one), anything else leaves it as it was.
func objectPtr[T any](s *scanner, dst *T, has *bool, field func(*scanner, *T, []byte) bool) bool {
	switch s.peek() {
	case '{':
		if !*has {
			var zero T
			*dst = zero
			*has = true
		}
		return object(s, dst, field)
	case 'n':
		lit := s.literal()
		if string(lit) == "null" {
			var zero T
			*dst = zero
			*has = false
			return true
		}
		return len(lit) > 0
	}
	return s.skip()
}

func countsField(s *scanner, c *wireCounts, key []byte) bool {
	switch {
	case is(key, kInput):
		return s.intField(&c.input)
	case is(key, kOutput):
		return s.intField(&c.output)
	case is(key, kPrompt):
		return s.intField(&c.prompt)
	case is(key, kCompletion):
		return s.intField(&c.completion)
	case is(key, kCacheCreation):
		return s.intField(&c.cacheCreation)
	case is(key, kCacheRead):
		return s.intField(&c.cacheRead)
	case is(key, kBInput):
		return s.intField(&c.input)
	case is(key, kBOutput):
		return s.intField(&c.output)
	case is(key, kBCacheRead):
		return s.intField(&c.cacheRead)
	case is(key, kBCacheWrite):
		return s.intField(&c.cacheCreation)
	case is(key, kPromptDetails):
		return objectPtr(s, &c.promptDetails, &c.promptDetails.has, detailsField)
	case is(key, kInputDetails):
		return objectPtr(s, &c.inputDetails, &c.inputDetails.has, detailsField)
	case is(key, kRealtimeDetails):
		return objectPtr(s, &c.rtDets, &c.rtDets.has, detailsField)
	case is(key, kCompletionDetails):
		return objectPtr(s, &c.completionDetails, &c.completionDetails.has, detailsField)
	case is(key, kOutputDetails):
		return objectPtr(s, &c.outputDetails, &c.outputDetails.has, detailsField)
	}
	return s.skip()
}

func detailsField(s *scanner, d *wireDetails, key []byte) bool {
	if is(key, kCached) {
		return s.intField(&d.cached)
	}
	if is(key, kReasoning) {
		return s.intField(&d.reasoning)
	}
	return s.skip()
}

func geminiField(s *scanner, g *wireGemini, key []byte) bool {
	switch {
	case is(key, kGPrompt):
		return s.intField(&g.prompt)
	case is(key, kGToolPrompt):
		return s.intField(&g.toolPrompt)
	case is(key, kGCandidates):
		return s.intField(&g.candidates)
	case is(key, kGThoughts):
		return s.intField(&g.thoughts)
	case is(key, kGCached):
		return s.intField(&g.cached)
	}
	return s.skip()
}

// intField reads an int64: null clears it, a number that is not an int64
// or a value of another type leaves it alone.
func (s *scanner) intField(dst *optInt) bool {
	c := s.peek()
	if c == '"' || c == '{' || c == '[' || c == 0 {
		return s.skip()
	}
	lit := s.literal()
	if len(lit) == 0 {
		return false
	}
	if string(lit) == "null" {
		*dst = optInt{}
	} else if v, err := strconv.ParseInt(string(lit), 10, 64); err == nil {
		*dst = optInt{v: v, ok: true}
	}
	return true
}

// stringField reads a string; null and other types leave it alone.
func (s *scanner) stringField(dst *[]byte) bool {
	if s.peek() != '"' {
		return s.skip()
	}
	raw, ok := s.str()
	if !ok {
		return false
	}
	v, ok := unquote(raw)
	if !ok {
		return false
	}
	*dst = v
	return true
}

// arrayItems validates a JSON array at the start of d and returns the
// spans of its elements.
func arrayItems(d []byte) ([][]byte, bool) {
	s := scanner{d: d}
	s.ws()
	if s.peek() != '[' {
		return nil, false
	}
	s.i++
	var items [][]byte
	s.ws()
	if s.peek() == ']' {
		s.i++
	} else {
		for {
			s.ws()
			start := s.i
			if !s.skip() {
				return nil, false
			}
			items = append(items, d[start:s.i])
			s.ws()
			if s.peek() == ',' {
				s.i++
				continue
			}
			if s.peek() != ']' {
				return nil, false
			}
			s.i++
			break
		}
	}
	s.ws()
	return items, s.i == len(d)
}
