package fakeprovider

import (
	"encoding/json"
	"net/http"
	"strings"
)

// NewGemini answers the Gemini API: generateContent, streamGenerateContent
// (SSE with ?alt=sse, a JSON array without), countTokens and the model
// list, under any version prefix (/v1beta, /v1, /v1alpha).
func NewGemini(reply Reply) *Fake { return newFake("gemini", reply, routeGemini) }

func routeGemini(f *Fake, w http.ResponseWriter, r *http.Request, _ *Request) {
	p := r.URL.Path
	model, method, hasMethod := strings.Cut(p[strings.LastIndex(p, "/")+1:], ":")
	switch {
	case hasMethod && r.Method == http.MethodPost && method == "generateContent":
		if text, ok := geminiStructured(r); ok {
			writeJSON(w, http.StatusOK, f.geminiChunk(model, text, true))
			return
		}
		writeJSON(w, http.StatusOK, f.geminiChunk(model, f.Reply.Text, true))
	case hasMethod && r.Method == http.MethodPost && method == "streamGenerateContent":
		f.geminiStream(w, r, model)
	case hasMethod && r.Method == http.MethodPost && method == "countTokens":
		writeJSON(w, http.StatusOK, map[string]any{"totalTokens": f.Reply.InputTokens})
	case strings.HasSuffix(p, "/models") && r.Method == http.MethodGet:
		var ms []any
		for _, id := range ModelIDs["gemini"] {
			ms = append(ms, geminiModel(id))
		}
		writeJSON(w, http.StatusOK, map[string]any{"models": ms})
	case strings.Contains(p, "/models/") && !hasMethod && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, geminiModel(model))
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{
			"code": 404, "status": "NOT_FOUND", "message": "Method not found: " + r.Method + " " + p}})
	}
}

// geminiStructured answers a request for JSON output with its schema's
// smallest instance; ok is false for ordinary text requests.
func geminiStructured(r *http.Request) (string, bool) {
	body, err := decode(r)
	if err != nil {
		return "", false
	}
	gc, _ := body["generationConfig"].(map[string]any)
	if gc == nil || str(gc, "responseMimeType", "") != "application/json" {
		return "", false
	}
	schema, _ := gc["responseJsonSchema"].(map[string]any)
	if schema == nil {
		schema, _ = gc["responseSchema"].(map[string]any)
	}
	return structuredText(schema), true
}

func geminiModel(id string) map[string]any {
	return map[string]any{"name": "models/" + id, "baseModelId": id, "version": "001", "displayName": id,
		"inputTokenLimit": 1048576, "outputTokenLimit": 65536,
		"supportedGenerationMethods": []string{"generateContent", "countTokens"}}
}

// geminiChunk is one GenerateContentResponse; the last one of a stream (or
// the only one) carries the finish reason and the full usage.
func (f *Fake) geminiChunk(model, text string, last bool) map[string]any {
	cand := map[string]any{"index": 0, "content": map[string]any{"role": "model", "parts": []any{map[string]any{"text": text}}}}
	out := 0
	if last {
		cand["finishReason"] = "STOP"
		out = f.Reply.OutputTokens
	}
	usage := map[string]any{"promptTokenCount": f.Reply.InputTokens, "totalTokenCount": f.Reply.InputTokens + out}
	if out > 0 {
		usage["candidatesTokenCount"] = out
	}
	if f.Reply.CachedTokens > 0 {
		usage["cachedContentTokenCount"] = f.Reply.CachedTokens
	}
	return map[string]any{"candidates": []any{cand}, "usageMetadata": usage, "modelVersion": model, "responseId": newID("gem-")}
}

func (f *Fake) geminiStream(w http.ResponseWriter, r *http.Request, model string) {
	cs := f.Reply.chunks()
	var chunks []map[string]any
	for i, c := range cs {
		chunks = append(chunks, f.geminiChunk(model, c, i == len(cs)-1))
	}
	if r.URL.Query().Get("alt") != "sse" {
		writeJSON(w, http.StatusOK, chunks)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for _, c := range chunks {
		b, _ := json.Marshal(c)
		// The Gemini API ends each event with CRLF pairs.
		w.Write([]byte("data: " + string(b) + "\r\n\r\n"))
		rc.Flush()
	}
}
