package guards

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Provider-hosted web tools (apiProxy.hostedWeb.<engine>.enabled, gh-aw
// v0.28.31). Claude's web_search / web_fetch server tools, OpenAI's
// web_search and Gemini's googleSearch / urlContext make the provider
// fetch arbitrary web content on its own side: that traffic never meets
// the egress allowlist. With an engine's hosted web disabled, a request
// on that engine's provider port that asks for such a tool is refused
// (403 hosted_web_disabled) before it goes upstream.

// EnvHostedWeb carries apiProxy.hostedWeb to the api-proxy as JSON:
// {"claude": {"enabled": false}, ...}.
const EnvHostedWeb = "AWF_HOSTED_WEB"

// RuleHostedWeb is the refusal's error type and log event.
const RuleHostedWeb = "hosted_web_disabled"

// toolShape is one provider API's way of asking for hosted web tools.
type toolShape int

const (
	shapeAnthropic toolShape = 1 << iota // Messages: tools[].type web_search_* / web_fetch_*
	shapeOpenAI                          // Responses tools[].type web_search*, chat web_search_options
	shapeGemini                          // tools[] objects with googleSearch, urlContext, ...
)

// hostedWebEngines is the one table of engines: the api-proxy providers
// (ports) each engine's requests arrive on and the request shapes checked
// there. Copilot fronts both OpenAI- and Anthropic-shaped models. Gemini
// reaches Google through the gemini or the vertex port.
var hostedWebEngines = map[string]map[string]toolShape{
	"claude":  {"anthropic": shapeAnthropic},
	"codex":   {"openai": shapeOpenAI},
	"openai":  {"openai": shapeOpenAI},
	"copilot": {"copilot": shapeOpenAI | shapeAnthropic},
	"gemini":  {"gemini": shapeGemini, "vertex": shapeGemini},
}

// HostedWebEngines lists the engine names apiProxy.hostedWeb knows.
func HostedWebEngines() []string {
	out := make([]string, 0, len(hostedWebEngines))
	for e := range hostedWebEngines {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// HostedWebOff is the set of engines whose hosted web tools are disabled.
type HostedWebOff map[string]bool

// ParseHostedWeb reads {"<engine>": {"enabled": bool}}. enabled true or
// absent changes nothing; unknown engines are returned (to warn about)
// and otherwise ignored.
func ParseHostedWeb(v string) (off HostedWebOff, unknown []string, err error) {
	var raw map[string]struct {
		Enabled *bool `json:"enabled"`
	}
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, nil, err
	}
	off = HostedWebOff{}
	for engine, s := range raw {
		if _, ok := hostedWebEngines[engine]; !ok {
			unknown = append(unknown, engine)
			continue
		}
		if s.Enabled != nil && !*s.Enabled {
			off[engine] = true
		}
	}
	sort.Strings(unknown)
	if len(off) == 0 {
		off = nil
	}
	return off, unknown, nil
}

// hostedWebRule is the rule in force on a provider port: the shapes to
// look for and the engine named in the refusal ("" = none).
func (c *Config) hostedWebRule(provider string) (engine string, shapes toolShape) {
	engines := make([]string, 0, len(c.HostedWebOff))
	for e := range c.HostedWebOff {
		engines = append(engines, e)
	}
	sort.Strings(engines) // deterministic engine name when two share a port (codex, openai)
	for _, e := range engines {
		if s := hostedWebEngines[e][provider]; s != 0 {
			if engine == "" {
				engine = e
			}
			shapes |= s
		}
	}
	return engine, shapes
}

// HostedWebActive reports whether requests on provider's port must be
// read for hosted web tools.
func (c *Config) HostedWebActive(provider string) bool {
	_, s := c.hostedWebRule(provider)
	return s != 0
}

// bodyKeys are the top-level keys read from a request body, in one pass:
// the model and what can ask for hosted web tools.
var bodyKeys = []string{"model", "tools", "web_search_options"}

const (
	keyModel = iota
	keyTools
	keyWebSearchOptions
)

// BodyScan is what one pass over a request body found.
type BodyScan struct {
	Model     string   // the model that counts (the last top-level "model" string)
	AllModels []string // every top-level "model" string (duplicates must all pass)
	Hosted    []string // hosted web tools asked for, e.g. web_search_20250305
}

// ScanBody reads the body's top-level keys once: the model (as
// ScanModels) and, when a hosted web rule is in force on provider's port,
// the hosted web tools the request asks for. Every duplicate "tools" key
// is checked, as parsers differ on which one counts.
func (c *Config) ScanBody(provider string, body []byte) BodyScan {
	_, shapes := c.hostedWebRule(provider)
	keys := modelKey
	if shapes != 0 {
		keys = bodyKeys
	}
	fs, _ := topFields(body, keys)
	var out BodyScan
	lastModel := -1
	for i, f := range fs {
		if f.key == keyModel {
			lastModel = i
		}
	}
	for i, f := range fs {
		v := body[f.span[0]:f.span[1]]
		switch f.key {
		case keyModel:
			var m string
			if json.Unmarshal(v, &m) != nil {
				continue
			}
			out.AllModels = append(out.AllModels, m)
			if i == lastModel {
				out.Model = m
			}
		case keyTools:
			out.Hosted = append(out.Hosted, hostedTools(v, shapes)...)
		case keyWebSearchOptions:
			if shapes&shapeOpenAI != 0 && string(v) != "null" {
				out.Hosted = append(out.Hosted, "web_search_options")
			}
		}
	}
	return out
}

// HostedInMessage is the hosted web tools a Responses WebSocket
// response.create message asks for: its top-level tools and those of its
// "response" object.
func (c *Config) HostedInMessage(provider string, msg []byte) []string {
	_, shapes := c.hostedWebRule(provider)
	if shapes == 0 {
		return nil
	}
	var m struct {
		Response json.RawMessage `json:"response"`
	}
	out := c.ScanBody(provider, msg).Hosted
	if json.Unmarshal(msg, &m) == nil && len(m.Response) > 0 {
		out = append(out, c.ScanBody(provider, m.Response).Hosted...)
	}
	return out
}

// gemini's hosted web tool keys (REST JSON accepts both spellings).
var geminiWebKeys = map[string]bool{
	"googleSearch": true, "google_search": true, "googleSearchRetrieval": true, "google_search_retrieval": true,
	"urlContext": true, "url_context": true,
}

// hostedTools lists the hosted web tools in one "tools" value. A value
// that is not an array of objects asks for nothing the provider would
// accept as a tool.
func hostedTools(v []byte, shapes toolShape) []string {
	var tools []map[string]json.RawMessage
	if json.Unmarshal(v, &tools) != nil {
		return nil
	}
	var out []string
	for _, t := range tools {
		if shapes&shapeGemini != 0 {
			for k, val := range t {
				if geminiWebKeys[k] && string(val) != "null" {
					out = append(out, k)
				}
			}
		}
		var typ string
		if json.Unmarshal(t["type"], &typ) != nil {
			continue
		}
		if isHostedType(typ, shapes) {
			out = append(out, typ)
		}
	}
	return out
}

// isHostedType: Anthropic server tools are versioned (web_search_20250305,
// web_fetch_20250910); OpenAI's are web_search, web_search_preview and
// dated variants (web_search_preview_2025_03_11, web_search_2025_08_26):
// every web_search_* type is taken as hosted (fail closed on new
// variants; the provider would reject a bogus one anyway). A function or custom
// tool merely named web_search has type "function"/"custom" and passes.
func isHostedType(typ string, shapes toolShape) bool {
	if shapes&shapeAnthropic != 0 && (strings.HasPrefix(typ, "web_search_") || strings.HasPrefix(typ, "web_fetch_")) {
		return true
	}
	if shapes&shapeOpenAI != 0 && (typ == "web_search" || strings.HasPrefix(typ, "web_search_")) {
		return true
	}
	return false
}

// hostedWebDecision refuses a request on provider's port that asks for
// hosted web tools while the engine's are disabled.
func (c *Config) hostedWebDecision(provider string, hosted []string) Decision {
	if len(hosted) == 0 {
		return allow
	}
	engine, shapes := c.hostedWebRule(provider)
	if shapes == 0 {
		return allow
	}
	tools := dedup(hosted)
	return refuse(http.StatusForbidden, RuleHostedWeb,
		fmt.Sprintf("Provider-hosted web tools (%s) are disabled for %s by apiProxy.hostedWeb.%s.enabled=false; use the firewall's allowlisted network instead",
			strings.Join(tools, ", "), engine, engine),
		"engine", engine, "tools", tools)
}

func dedup(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
