package guards

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
)

// modelFields finds every top-level "model" key of a JSON object and the
// byte range of its value. ok is false for a body that is not a JSON
// object.
func modelFields(body []byte) (spans [][2]int, ok bool) {
	fs, ok := topFields(body, modelKey)
	for _, f := range fs {
		spans = append(spans, f.span)
	}
	return spans, ok
}

var modelKey = []string{"model"}

// field is one top-level key of interest: its index in the keys asked
// for and the byte range of its value.
type field struct {
	key  int
	span [2]int
}

// topFields finds every top-level occurrence of keys in a JSON object and
// the byte range of each value, in body order. It skips values without
// decoding them (a conversation body can be megabytes; only its top level
// matters), so the model and the hosted-web keys (hostedweb.go) come from
// one pass. ok is false for a body that is not a JSON object.
func topFields(body []byte, keys []string) (fields []field, ok bool) {
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, false
	}
	i = skipWS(body, i+1)
	if i < len(body) && body[i] == '}' {
		return nil, true
	}
	for {
		if i >= len(body) || body[i] != '"' {
			return nil, false
		}
		kEnd, ok := skipString(body, i)
		if !ok {
			return nil, false
		}
		key := body[i:kEnd]
		i = skipWS(body, kEnd)
		if i >= len(body) || body[i] != ':' {
			return nil, false
		}
		vStart := skipWS(body, i+1)
		vEnd, ok := skipValue(body, vStart)
		if !ok {
			return nil, false
		}
		if k := keyIndex(key, keys); k >= 0 {
			fields = append(fields, field{k, [2]int{vStart, vEnd}})
		}
		i = skipWS(body, vEnd)
		if i < len(body) && body[i] == ',' {
			i = skipWS(body, i+1)
			continue
		}
		if i < len(body) && body[i] == '}' {
			return fields, true
		}
		return nil, false
	}
}

// keyIndex is the index in keys of the quoted key raw (an escaped
// spelling is the same key), or -1.
func keyIndex(raw []byte, keys []string) int {
	if len(raw) < 2 {
		return -1
	}
	for i, k := range keys {
		if len(raw) == len(k)+2 && string(raw[1:len(raw)-1]) == k {
			return i
		}
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return -1
	}
	for i, k := range keys {
		if unquotes(raw, k) {
			return i
		}
	}
	return -1
}

func unquotes(raw []byte, want string) bool {
	var s string
	return json.Unmarshal(raw, &s) == nil && s == want
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// skipValue returns the index after the JSON value starting at b[i]. It
// checks bracket nesting and strings, not the full grammar: the body is
// the upstream's to judge, this only has to find the top-level keys.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				e, ok := skipString(b, i)
				if !ok {
					return 0, false
				}
				i = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
		}
		return 0, false
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
			j++
		}
		return j, j > i
	}
}

// ModelsFromBody are the string values of every top-level "model" key, in
// order. JSON parsers differ on duplicate keys (most keep the last), so a
// policy must hold for all of them.
func ModelsFromBody(body []byte) []string {
	spans, _ := modelFields(body)
	var out []string
	for _, sp := range spans {
		var m string
		if json.Unmarshal(body[sp[0]:sp[1]], &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// ScanModels reads the body's top-level "model" keys once: the model that
// counts (the last key, "" when it is not a string) and every string
// value (for the policy, when there are duplicates).
func ScanModels(body []byte) (model string, all []string) {
	spans, _ := modelFields(body)
	for i, sp := range spans {
		var m string
		if json.Unmarshal(body[sp[0]:sp[1]], &m) != nil {
			continue
		}
		all = append(all, m)
		if i == len(spans)-1 {
			model = m
		}
	}
	return model, all
}

// ModelFromBody is the top-level "model" string of a JSON body (the last
// one, as JSON.parse reads duplicates), or "".
func ModelFromBody(body []byte) string {
	spans, _ := modelFields(body)
	if len(spans) == 0 {
		return ""
	}
	var m string
	last := spans[len(spans)-1]
	if json.Unmarshal(body[last[0]:last[1]], &m) != nil {
		return "" // not a string: no model, as the original
	}
	return m
}

// ReplaceModel rewrites every top-level "model" string and leaves every
// other byte of the body as the agent sent it.
func ReplaceModel(body []byte, model string) ([]byte, bool) {
	spans, _ := modelFields(body)
	v, _ := json.Marshal(model)
	var out []byte
	last := 0
	for _, sp := range spans {
		if body[sp[0]] != '"' {
			continue
		}
		out = append(append(out, body[last:sp[0]]...), v...)
		last = sp[1]
	}
	if out == nil {
		return nil, false
	}
	return append(out, body[last:]...), true
}

// GeminiPathModel is the model a Gemini path names:
// .../models/<model>:generateContent (or any :method), else "".
func GeminiPathModel(path string) string {
	i := strings.LastIndex(path, "/models/")
	if i < 0 {
		return ""
	}
	rest := path[i+len("/models/"):]
	j := strings.IndexByte(rest, ':')
	if j <= 0 || strings.Contains(rest[:j], "/") {
		return ""
	}
	m, err := url.PathUnescape(rest[:j])
	if err != nil {
		return ""
	}
	return m
}

// ReplaceGeminiPathModel puts model into a Gemini method path.
func ReplaceGeminiPathModel(path, model string) string {
	i := strings.LastIndex(path, "/models/")
	rest := path[i+len("/models/"):]
	j := strings.IndexByte(rest, ':')
	return path[:i+len("/models/")] + url.PathEscape(model) + rest[j:]
}

// ModelFromQuery is a WebSocket upgrade's ?model= value, or "".
func ModelFromQuery(rawQuery string) string {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return ""
	}
	return q.Get("model")
}
