package apiproxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/awf-dev/awf/internal/guards"
	"github.com/awf-dev/awf/internal/usage"
)

// GuardStateFile is written next to token-usage.jsonl: the run's spend
// against each budget and the guard that stopped it, for `awf logs`.
const GuardStateFile = guards.StateFile

// admit runs the guards on a request before it goes upstream. It reads the
// body only when a guard needs the model (or the body is to be rewritten:
// aliases, steering); otherwise the body keeps streaming. On refusal it
// answers the agent and returns false.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, st *reqState) bool {
	gc := s.guards.Config()
	req := guards.Request{Provider: st.p.Name, Method: r.Method, Path: r.URL.Path, WebSocket: r.Header.Get("Upgrade") != ""}
	hasBody := r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch
	switch {
	case req.WebSocket:
		req.Model = guards.ModelFromQuery(r.URL.RawQuery)
	case (gc.NeedsModel() || gc.HostedWebActive(st.p.Name)) && hasBody && st.body != nil && s.jsonObjectBody(r, st):
		body, err := readBody(r.Body, r.ContentLength)
		if err != nil {
			if errors.Is(err, errBodyTooLarge) {
				st.status = http.StatusRequestEntityTooLarge
				writeJSON(w, st.status, errorBody("Payload Too Large", "Request body exceeds 10 MB limit"))
			} else {
				st.status = 499 // the agent went away mid-body
			}
			s.finish(st, usage.Usage{})
			return false
		}
		st.inbound = int64(len(body))
		body = s.transformBody(r, st, body)
		if s.guards.Config().CaptureBlocked != "" {
			st.held = body // for the blocked-request record
		}
		// One pass over the top level: the model and, while a hostedWeb
		// rule is in force on this port, the hosted web tools asked for.
		scan := gc.ScanBody(st.p.Name, body)
		req.Model, req.Hosted = scan.Model, scan.Hosted
		// A body with the key twice: parsers differ on which one counts,
		// so every one must pass.
		for _, m := range scan.AllModels {
			if m == req.Model {
				continue
			}
			if d := s.guards.ModelDecision(st.p.Name, m); !d.Allow {
				return s.refuse(w, st, d)
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		r.Header.Del("Transfer-Encoding")
		r.TransferEncoding = nil
		// request_bytes is what went upstream, as the original logs it.
		st.body = &requestBody{rc: r.Body, limit: MaxBodyBytes}
		r.Body = st.body
	}
	if req.Model == "" && (st.p.Name == "gemini" || st.p.Name == "vertex") { // model in the method path
		req.Model = guards.GeminiPathModel(r.URL.Path)
		if req.Model != "" && gc.NeedsModel() {
			if m := s.resolveAlias(r.Context(), st, req.Model); m != "" {
				r.URL.Path = guards.ReplaceGeminiPathModel(r.URL.Path, m)
				r.URL.RawPath = ""
				req.Model = m
			}
		}
	}
	if req.Model == "" {
		req.Model = bedrockPathModel(r.URL.Path) // auth.go: Bedrock names the model in the path
	}
	t, d := s.guards.Admit(req)
	if d.Allow {
		st.ticket, st.model = t, req.Model
		return true
	}
	return s.refuse(w, st, d)
}

// refuse answers a request a guard refused, as the original: the guard's
// status and JSON body, and a warn line named after the guard.
func (s *Server) refuse(w http.ResponseWriter, st *reqState, d guards.Decision) bool {
	s.log.Warn(d.Rule, append([]any{"request_id", st.id, "provider", st.p.Name}, d.Fields...)...)
	if mode := s.guards.Config().CaptureBlocked; mode != "" {
		s.blockedDiag(st, d, mode)
	}
	st.status = d.Status
	writeJSON(w, d.Status, d.Body)
	s.finish(st, usage.Usage{})
	return false
}

// jsonObjectBody reports whether the body starts (after white space) with
// '{': only a JSON object can name a model, be rewritten or carry
// steering, so anything else (file uploads, audio) keeps streaming instead
// of being held in memory. The bytes peeked stay in r.Body.
func (s *Server) jsonObjectBody(r *http.Request, st *reqState) bool {
	br := bufio.NewReaderSize(st.body, 512)
	r.Body = struct {
		io.Reader
		io.Closer
	}{br, st.body}
	for n := 1; n <= 512; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			return err == nil // an empty or short body: nothing to stream
		}
		switch b[n-1] {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b[n-1] == '{'
	}
	return false
}

// readBody reads a request body whole, in one allocation when its length
// is known.
func readBody(r io.Reader, n int64) ([]byte, error) {
	if n < 0 || n > MaxBodyBytes {
		return io.ReadAll(r)
	}
	b := make([]byte, n, n+1)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	// A body longer than announced would be cut by the server; read to EOF.
	more, err := io.ReadAll(r)
	return append(b, more...), err
}

// blockedDiag appends the refused request's body shape to
// blocked-request-diag.jsonl (apiProxy.diagnostics.captureBlockedRequests).
// A body the guards did not need to read is read now, up to the limit:
// the request is refused anyway.
func (s *Server) blockedDiag(st *reqState, d guards.Decision, mode string) {
	if s.cfg.TokenLogDir == "" {
		return
	}
	body, inbound := st.held, st.inbound
	if body == nil && st.body != nil {
		body, _ = io.ReadAll(io.LimitReader(st.body, MaxBodyBytes))
		inbound = int64(len(body))
	}
	totals := map[string]any{}
	for i := 0; i+1 < len(d.Fields); i += 2 {
		k, _ := d.Fields[i].(string)
		totals[k] = d.Fields[i+1]
	}
	rec := guards.BodyShape(body, mode, s.guards.Config().MaxCaptureBytes)
	for k, v := range map[string]any{
		"_schema": "blocked-request-diag/v" + usage.SchemaVersion, "timestamp": usage.Timestamp(time.Now()), "event": "blocked_request_diag",
		"capture_mode": mode, "request_id": st.id, "provider": st.p.Name, "path": sanitize(st.path), "guard_type": d.Rule,
		"guard_totals": totals, "body_transformed": int64(len(body)) != inbound, "inbound_bytes": inbound,
	} {
		rec[k] = v
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return
	}
	diagMu.Lock()
	defer diagMu.Unlock()
	f, err := os.OpenFile(filepath.Join(s.cfg.TokenLogDir, guards.DiagFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.log.Warn("blocked_request_diag_error", "error", sanitize(err.Error()))
		return
	}
	f.Write(append(line, '\n'))
	f.Close()
}

var diagMu sync.Mutex

// transformBody applies alias rewriting and steering to a buffered body,
// as the original's transform pipeline does before its guards run.
func (s *Server) transformBody(r *http.Request, st *reqState, body []byte) []byte {
	if len(s.guards.Config().Aliases) > 0 {
		if m := guards.ModelFromBody(body); m != "" {
			if to := s.resolveAlias(r.Context(), st, m); to != "" && to != m {
				if nb, ok := guards.ReplaceModel(body, to); ok {
					body = nb
				}
			}
		}
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		for _, sm := range s.guards.PopSteering() {
			if nb, ok := guards.InjectSteering(body, st.p.Name, sm.Message); ok {
				body = nb
				s.log.Info(sm.Kind+"_steering", "request_id", st.id, "provider", st.p.Name, "message", sm.Message)
			}
		}
	}
	return body
}

// resolveAlias maps a requested model through apiProxy.models against the
// provider's catalogue; "" when it stays as sent. A miss refreshes the
// catalogue once (a model may have appeared), as the original does.
func (s *Server) resolveAlias(ctx context.Context, st *reqState, model string) string {
	gc := s.guards.Config()
	if len(gc.Aliases) == 0 {
		return ""
	}
	res, ok := gc.ResolveModel(model, st.p.Name, s.catalogs.get(ctx, s, st.p, false))
	if !ok || res.Fallback {
		// The model may be new: look again before guessing.
		res, ok = gc.ResolveModel(model, st.p.Name, s.catalogs.get(ctx, s, st.p, true))
	}
	if !ok {
		return ""
	}
	if res.Fallback {
		s.log.Warn("model_fallback_activated", "request_id", st.id, "provider", st.p.Name, "reason", "no_alias_match_and_not_in_available_models",
			"original_model", sanitize(model), "selected", sanitize(res.Model), "candidates", res.Candidates)
	}
	s.log.Info("model_resolution", "request_id", st.id, "provider", st.p.Name, "requested_model", sanitize(model),
		"resolved_model", sanitize(res.Model), "resolution_log", res.Log)
	if res.Model != model {
		s.log.Info("model_rewrite", "request_id", st.id, "provider", st.p.Name, "original_model", sanitize(model), "rewritten_model", sanitize(res.Model))
	}
	return res.Model
}

// settle books a finished request and fills its record's budget fields.
func (s *Server) settle(st *reqState, u usage.Usage, rec *usage.Record) {
	s.budgetFields(st, s.guards.Settle(st.ticket, st.status, u), rec)
}

// budgetFields puts what a response cost into its record and logs it.
func (s *Server) budgetFields(st *reqState, b guards.Settlement, rec *usage.Record) {
	if rec == nil {
		return
	}
	if b.HasEffective {
		rec.EffectiveTokensThisResponse, rec.EffectiveTokensTotal, rec.ModelMultiplier = &b.EffectiveThis, &b.EffectiveTotal, &b.Multiplier
	}
	if b.HasCredits {
		rec.AICreditsThisResponse, rec.AICreditsTotal = &b.CreditsThis, &b.CreditsTotal
		rec.AICreditsPricingSource, rec.AICreditsFallbackPricing, rec.AICreditsDynamicSelector = b.PricingSource, &b.FallbackPricing, b.DynamicSelector
		if s.guards.UnknownModel(b, rec.Model) {
			s.log.Warn("unknown_model_ai_credits_pricing", "model", sanitize(rec.Model), "pricing_source", b.PricingSource)
		}
		if s.guards.Config().MaxAICredits > 0 {
			s.log.LogAttrs(context.Background(), slog.LevelInfo, "token_budget_usage", slog.String("request_id", st.id),
				slog.String("provider", st.p.Name), slog.String("model", rec.Model), slog.Float64("ai_credits_this_response", b.CreditsThis),
				slog.Float64("ai_credits_total", b.CreditsTotal), slog.String("pricing_source", b.PricingSource))
		}
	}
	for _, th := range b.Crossed {
		s.log.Info("effective_tokens_threshold", "request_id", st.id, "threshold", th, "total_effective_tokens", b.EffectiveTotal,
			"max_effective_tokens", s.guards.Config().MaxEffectiveTokens)
	}
}

// logGuards reports the guard settings at start-up, as the original's
// startup lines do.
func (s *Server) logGuards() {
	c := s.guards.Config()
	if !c.Active() {
		return
	}
	s.log.Info("startup", "message", "Guards configured", "max_ai_credits", c.MaxAICredits, "max_effective_tokens", c.MaxEffectiveTokens,
		"max_runs", c.MaxRuns, "max_cache_misses", c.MaxCacheMisses, "max_permission_denied", c.MaxPermissionDenied,
		"max_model_multiplier", c.MaxModelMultiplier, "allowed_models", c.AllowedModels, "disallowed_models", c.DisallowedModels,
		"model_aliases", len(c.Aliases), "token_steering", c.Steering, "hosted_web_disabled", c.HostedWebOff, "pricing_version", guards.Pricing.Version)
}

// logBudget reports the run's spend at shutdown.
func (s *Server) logBudget() {
	snap := s.guards.Snapshot()
	args := []any{"ai_credits", snap.AICredits, "runs", snap.Runs, "effective_tokens", snap.EffectiveTokens, "blocked", snap.Blocked}
	if snap.StoppedBy != nil {
		args = append(args, "stopped_by", snap.StoppedBy.Rule)
	}
	s.log.Info("budget_summary", args...)
}

// withGuardReflect adds the guards' state to /reflect's extra fields;
// fields the caller set win.
func (s *Server) withGuardReflect(extra map[string]any) map[string]any {
	out := s.guards.Reflect()
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// validateRequestedModel checks apiProxy.requestedModel against the
// configured providers' model lists at start-up and logs the outcome
// (model_validation, or model_unavailable_at_startup as an error); it
// never blocks or refuses anything, as the original.
func (s *Server) validateRequestedModel() {
	gc := s.guards.Config()
	if gc.RequestedModel == "" {
		return
	}
	lists := map[string][]string{}
	var all []string
	for _, p := range Providers {
		if !s.cfg.Enabled(p) {
			continue
		}
		if ms := s.catalogs.get(context.Background(), s, p, false); len(ms) > 0 {
			lists[p.Name] = ms
			all = append(all, ms...)
		}
	}
	if len(all) == 0 {
		s.log.Warn("model_validation_skipped", "requested_model", sanitize(gc.RequestedModel),
			"message", "Cannot validate requested model — no model lists available from providers")
		return
	}
	if prov, via, ok := gc.ValidateRequested(lists); ok {
		s.log.Info("model_validation", "requested_model", sanitize(gc.RequestedModel), "resolved_via", via, "provider", prov,
			"message", fmt.Sprintf("Requested model '%s' is available", sanitize(gc.RequestedModel)))
		return
	}
	shown, more := all, ""
	if len(all) > 20 {
		shown, more = all[:20], fmt.Sprintf(" (and %d more)", len(all)-20)
	}
	s.log.Error("model_unavailable_at_startup", "requested_model", sanitize(gc.RequestedModel), "available_count", len(all),
		"message", fmt.Sprintf("Requested model '%s' is not available in any configured provider's model list. This typically means the model is retired, restricted, or misspelled. Available models: %s%s",
			sanitize(gc.RequestedModel), strings.Join(shown, ", "), more))
}

// GuardSnapshot is the run's spend against each budget so far.
func (s *Server) GuardSnapshot() guards.Snapshot { return s.guards.Snapshot() }

// writeGuardState persists the snapshot atomically next to the token log.
func (s *Server) writeGuardState() {
	if s.cfg.TokenLogDir == "" || s.tokens == nil {
		return
	}
	guardStateMu.Lock()
	defer guardStateMu.Unlock()
	b, err := json.MarshalIndent(s.guards.Snapshot(), "", "  ")
	if err != nil {
		return
	}
	p := filepath.Join(s.cfg.TokenLogDir, GuardStateFile)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err == nil {
		os.Rename(tmp, p)
	}
}

var guardStateMu sync.Mutex // one writer of guards.json at a time

// catalogs caches each provider's model list for alias resolution.
type catalogs struct {
	mu sync.Mutex
	m  map[string]*catalogEntry
}

type catalogEntry struct {
	mu     sync.Mutex // one fetch per provider at a time; other providers do not wait
	models []string
	at     time.Time
	done   bool
}

// listPaths are where each provider lists its models.
var listPaths = map[string]string{"openai": "/v1/models", "anthropic": "/v1/models", "copilot": "/models", "gemini": "/v1beta/models"}

// get returns p's catalogue, fetched once (refresh: again, at most every
// 30 s). A failed fetch yields nil: aliases then resolve to nothing and
// the request goes as sent.
func (c *catalogs) get(ctx context.Context, s *Server, p *Provider, refresh bool) []string {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*catalogEntry{}
	}
	e := c.m[p.Name]
	if e == nil {
		e = &catalogEntry{}
		c.m[p.Name] = e
	}
	c.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done && (!refresh || time.Since(e.at) < 30*time.Second) {
		return e.models
	}
	if models := s.fetchCatalog(ctx, p); models != nil || !e.done {
		e.models = models // a failed refresh keeps the last good list
	}
	e.at, e.done = time.Now(), true
	return e.models
}

func (s *Server) fetchCatalog(ctx context.Context, p *Provider) []string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	target := s.cfg.Targets[p.Name]
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+target+s.cfg.BasePaths[p.Name]+listPaths[p.Name], nil)
	if err != nil {
		return nil
	}
	p.inject(req.Header, s.cfg.Keys[p.Name])
	resp, err := s.transport.RoundTrip(req)
	if err != nil {
		s.log.Warn("model_catalog_error", "provider", p.Name, "error", sanitize(redact(err.Error(), s.secrets())))
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		s.log.Warn("model_catalog_error", "provider", p.Name, "status", resp.StatusCode)
		return nil
	}
	var list struct {
		Data []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"data"`
		Models []struct {
			Name string `json:"name"`
		} `json:"models"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&list) != nil {
		return nil
	}
	var out []string
	for _, m := range list.Data {
		if m.ID != "" {
			out = append(out, m.ID)
		} else if m.Name != "" {
			out = append(out, m.Name)
		}
	}
	for _, m := range list.Models {
		if m.Name != "" {
			out = append(out, strings.TrimPrefix(m.Name, "models/"))
		}
	}
	s.log.Info("model_catalog", "provider", p.Name, "models", len(out))
	return out
}
