package guards

import (
	"bytes"
	"encoding/json"
)

// Thresholds are the budget percentages tracked once per run.
var Thresholds = []int{80, 90, 95, 99}

var tokenWarnings = map[int]string{
	80: "You have used 80% of your effective token budget. Begin planning to wrap up your current work.",
	90: "You have used 90% of your effective token budget. Complete your current task and prepare final output.",
	95: "You have used 95% of your effective token budget. Finalize and submit your work now.",
	99: "You have used 99% of your effective token budget. You are about to be cut off. Submit immediately.",
}

var timeWarnings = map[int]string{
	80: "You have used 80% of your allotted run time. Begin planning to wrap up your current work.",
	90: "You have used 90% of your allotted run time. Complete your current task and prepare final output.",
	95: "You have used 95% of your allotted run time. Finalize and submit your work now.",
	99: "You have used 99% of your allotted run time. You are about to time out. Submit immediately.",
}

// Steer is one warning to inject into a request.
type Steer struct {
	Kind    string // "timeout" or "token" (the log event is <kind>_steering)
	Message string
}

// PopSteering takes the warnings due for the next request when steering
// is on: at most one time warning and one token warning, the highest
// pending threshold of each; lower ones wait for later requests. A taken
// warning is gone even if it cannot be injected (the spec's rule).
func (g *Guards) PopSteering() []Steer {
	if !g.cfg.Steering {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []Steer
	if g.cfg.AgentTimeout > 0 {
		pct := float64(g.now().Sub(g.start)) / float64(g.cfg.AgentTimeout) * 100
		for _, th := range Thresholds {
			if pct >= float64(th) && !g.timeEmitted[th] {
				g.timeEmitted[th], g.timePending[th] = true, true
			}
		}
		if th := popHighest(g.timePending); th > 0 {
			out = append(out, Steer{"timeout", "[AWF TIME WARNING] " + timeWarnings[th]})
		}
	}
	if th := popHighest(g.pending); th > 0 {
		out = append(out, Steer{"token", "[AWF TOKEN WARNING] " + tokenWarnings[th]})
	}
	return out
}

func popHighest(set map[int]bool) int {
	best := 0
	for th := range set {
		best = max(best, th)
	}
	if best > 0 {
		delete(set, best)
	}
	return best
}

// InjectSteering adds msg to a request body as a system instruction in the
// provider's shape: Anthropic's system (string or blocks), Gemini's
// systemInstruction.parts, else an OpenAI-style system message after the
// existing ones. ok is false when the body is not a JSON object of the
// expected shape.
func InjectSteering(body []byte, provider, msg string) ([]byte, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil || obj == nil {
		return nil, false
	}
	text, _ := json.Marshal(msg)
	switch provider {
	case "anthropic":
		sys := bytes.TrimSpace(obj["system"])
		var s string
		switch {
		case len(sys) > 0 && sys[0] == '"' && json.Unmarshal(sys, &s) == nil:
			obj["system"], _ = json.Marshal(s + "\n\n" + msg)
		case len(sys) > 0 && sys[0] == '[':
			var blocks []json.RawMessage
			if json.Unmarshal(sys, &blocks) != nil {
				return nil, false
			}
			obj["system"], _ = json.Marshal(append(blocks, mustRaw(map[string]any{"type": "text", "text": msg})))
		default:
			obj["system"] = text
		}
	case "gemini":
		var si map[string]json.RawMessage
		if raw := bytes.TrimSpace(obj["systemInstruction"]); len(raw) > 0 && raw[0] == '{' {
			if json.Unmarshal(raw, &si) != nil {
				return nil, false
			}
		}
		if si == nil {
			si = map[string]json.RawMessage{}
		}
		var parts []json.RawMessage
		json.Unmarshal(si["parts"], &parts) // absent or not an array: start afresh, as the original
		si["parts"], _ = json.Marshal(append(parts, mustRaw(map[string]any{"text": msg})))
		obj["systemInstruction"], _ = json.Marshal(si)
	default:
		var msgs []json.RawMessage
		if json.Unmarshal(obj["messages"], &msgs) != nil || msgs == nil {
			return nil, false
		}
		at := 0
		for i, m := range msgs {
			var role struct {
				Role string `json:"role"`
			}
			if json.Unmarshal(m, &role) == nil && role.Role == "system" {
				at = i + 1
			}
		}
		out := make([]json.RawMessage, 0, len(msgs)+1)
		out = append(append(append(out, msgs[:at]...), mustRaw(map[string]any{"role": "system", "content": msg})), msgs[at:]...)
		obj["messages"], _ = json.Marshal(out)
	}
	b, err := json.Marshal(obj)
	return b, err == nil
}

func mustRaw(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
