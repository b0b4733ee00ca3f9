package guards

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
)

// modelField locates the top-level "model" string of a JSON object: its
// value and the byte range of the value (quotes included). ok is false for
// a body that is not a JSON object or has no string model.
func modelField(body []byte) (model string, start, end int, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", 0, 0, false
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return "", 0, 0, false
		}
		key, _ := kt.(string)
		before := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return "", 0, 0, false
		}
		if key != "model" {
			continue
		}
		after := dec.InputOffset()
		// The value starts after the colon and any space.
		i := bytes.IndexByte(body[before:after], ':')
		if i < 0 {
			return "", 0, 0, false
		}
		s := int(before) + i + 1
		for s < int(after) && (body[s] == ' ' || body[s] == '\t' || body[s] == '\n' || body[s] == '\r') {
			s++
		}
		var m string
		if json.Unmarshal(raw, &m) != nil {
			return "", 0, 0, false // not a string: no model, as the original
		}
		return m, s, int(after), true
	}
	return "", 0, 0, false
}

// ModelFromBody is the top-level "model" string of a JSON body, or "".
func ModelFromBody(body []byte) string {
	m, _, _, _ := modelField(body)
	return m
}

// ReplaceModel rewrites the top-level "model" value and leaves every other
// byte of the body as the agent sent it.
func ReplaceModel(body []byte, model string) ([]byte, bool) {
	_, s, e, ok := modelField(body)
	if !ok {
		return nil, false
	}
	v, _ := json.Marshal(model)
	out := make([]byte, 0, len(body)-(e-s)+len(v))
	return append(append(append(out, body[:s]...), v...), body[e:]...), true
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
