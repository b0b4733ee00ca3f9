package guards

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Resolution is the outcome of alias resolution for one request.
type Resolution struct {
	Model      string   // the concrete model to send
	Candidates []string // every match, best first
	Log        []string // the steps, for the model_resolution log event
	Fallback   bool     // chosen by the middle-power fallback, not matched
}

// Fallback is apiProxy.modelFallback: when a requested name resolves to
// nothing the provider lists, the median-capability model the provider
// lists is used instead ("middle_power", on unless disabled).
type Fallback struct {
	Disabled       bool     `json:"-"`
	Strategy       string   `json:"strategy"`
	ExcludeEngines []string `json:"excludeEngines"`
}

// fallbackFor reports whether the middle-power fallback may rewrite
// requests to provider. Copilot never: its catalogue is authoritative
// (standard and BYOK alike), so a retired name fails upstream instead of
// being silently rerouted, as the original decides.
func (c *Config) fallbackFor(provider string) bool {
	if c.ModelFallback.Disabled || provider == "copilot" || (c.ModelFallback.Strategy != "" && c.ModelFallback.Strategy != "middle_power") {
		return false
	}
	for _, e := range c.ModelFallback.ExcludeEngines {
		if strings.EqualFold(strings.TrimSpace(e), provider) {
			return false
		}
	}
	return true
}

// ResolveModel maps a requested model name to a concrete model of
// provider, given the models the provider lists (its catalogue), with the
// original's rules: a model the provider lists is kept as is; otherwise an
// alias (case-insensitive; gpt-5.<minor> also finds a "gpt-5" alias) is
// expanded: "provider/glob" patterns match the current provider's
// catalogue, bare names are other aliases (loops are cut); candidates the
// model policy refuses are dropped and the highest version wins. A
// gpt-5.<minor> the provider lacks falls back to its highest gpt-5.x.
// When nothing matches, the middle-power fallback (see Fallback) picks the
// provider's median-capability model: for a name without an alias that
// the provider does not list, and for an alias whose provider patterns
// match nothing (only without a model policy, as the original). ok is
// false when nothing resolves: the request then goes as sent (and the
// model guards judge the name the agent used).
func (c *Config) ResolveModel(requested, provider string, catalog []string) (Resolution, bool) {
	var log []string
	if provider == "copilot" && strings.EqualFold(requested, "auto") {
		return Resolution{}, false
	}
	r, ok := c.resolve(requested, provider, catalog, nil, true, &log)
	r.Log = log
	return r, ok
}

var gpt5Minor = regexp.MustCompile(`^(gpt-5)\.\d+(?:[._-].*)?$`)

func (c *Config) resolve(requested, provider string, catalog, chain []string, top bool, log *[]string) (Resolution, bool) {
	key := strings.ToLower(requested)
	for _, k := range chain {
		if k == key {
			*log = append(*log, fmt.Sprintf("loop detected: %q already in chain [%s]", requested, strings.Join(chain, " → ")))
			return Resolution{}, false
		}
	}
	chain = append(append([]string(nil), chain...), key)
	direct := ""
	for _, m := range catalog {
		if strings.ToLower(m) == key {
			direct = m
			break
		}
	}
	if top && direct != "" {
		if !c.Permitted(direct) {
			*log = append(*log, fmt.Sprintf("model policy blocked direct match: %q", direct))
			return Resolution{}, false
		}
		*log = append(*log, fmt.Sprintf("direct match: %q → %q", requested, direct))
		return Resolution{Model: direct, Candidates: []string{direct}}, true
	}
	name, alias, found := c.findAlias(key)
	if !found {
		if m := gpt5Minor.FindStringSubmatch(key); m != nil {
			if name, alias, found = c.findAlias(m[1]); found {
				*log = append(*log, fmt.Sprintf("fallback alias: %q → %q", requested, name))
			}
		}
	}
	if !found {
		if direct != "" && c.Permitted(direct) {
			*log = append(*log, fmt.Sprintf("direct match: %q → %q", requested, direct))
			return Resolution{Model: direct, Candidates: []string{direct}}, true
		}
		if gpt5Exact.MatchString(key) {
			var fam []string
			for _, m := range catalog {
				if strings.HasPrefix(strings.ToLower(m), "gpt-5.") && c.Permitted(m) {
					fam = append(fam, m)
				}
			}
			if len(fam) > 0 {
				fam = sortByVersion(fam)
				*log = append(*log, fmt.Sprintf("requested model %q not available, falling back to %q", requested, fam[0]))
				return Resolution{Model: fam[0], Candidates: fam}, true
			}
		}
		return c.middlePower(requested, provider, catalog, log)
	}
	*log = append(*log, fmt.Sprintf("alias: %q → [%s]", requested, strings.Join(alias.Patterns, ", ")))
	var cands, synthesized []string
	for _, p := range alias.Patterns {
		prov, glob, scoped := strings.Cut(p, "/")
		if !scoped {
			if sub, ok := c.resolve(p, provider, catalog, chain, false, log); ok {
				if sub.Fallback {
					// A nested fallback pick is a guess: it counts only
					// when no sibling pattern matched anything.
					synthesized = append(synthesized, sub.Model)
				} else {
					cands = append(cands, sub.Model)
				}
			}
			continue
		}
		if !strings.EqualFold(prov, provider) {
			continue
		}
		for _, m := range catalog {
			if Glob(glob, m) {
				cands = append(cands, m)
			}
		}
	}
	viaFallback := false
	if len(cands) == 0 && len(synthesized) > 0 {
		cands, viaFallback = synthesized, true
	}
	var ok []string
	for _, m := range cands {
		if c.Permitted(m) {
			ok = append(ok, m)
		}
	}
	if len(ok) < len(cands) {
		*log = append(*log, fmt.Sprintf("model policy filtered out %d candidate(s)", len(cands)-len(ok)))
	}
	if len(ok) == 0 {
		*log = append(*log, fmt.Sprintf("no candidates found for %q on provider %q", name, provider))
		// Only an alias that names this provider (or a top-level request)
		// falls back; never with a model policy, whose refusals would be
		// bypassed by a guess.
		targetsHere, scoped := false, false
		for _, p := range alias.Patterns {
			if prov, _, ok := strings.Cut(p, "/"); ok {
				scoped = true
				targetsHere = targetsHere || strings.EqualFold(prov, provider)
			}
		}
		if alias.Fallback && scoped && (top || targetsHere) && c.AllowedModels == nil && c.DisallowedModels == nil {
			return c.middlePower(requested, provider, catalog, log)
		}
		return Resolution{}, false
	}
	ok = sortByVersion(dedupe(ok))
	*log = append(*log, fmt.Sprintf("resolved: %q → %q", requested, ok[0]))
	return Resolution{Model: ok[0], Candidates: ok, Fallback: viaFallback}, true
}

var (
	gpt5Exact    = regexp.MustCompile(`^gpt-5\.\d+$`)
	gptFamily    = regexp.MustCompile(`^(gpt-\d+(?:\.\d+)?)`)
	gpt5Tier     = regexp.MustCompile(`(?i)gpt-5(?:[.\-]|$)`)
	gpt4Tier     = regexp.MustCompile(`(?i)gpt-4(?:[.\-]|$)`)
	tierProvider = map[string]bool{"anthropic": true, "openai": true, "copilot": true}
)

// middlePower picks the median of the provider's models ranked by
// capability tier (Anthropic opus > sonnet > haiku; OpenAI gpt-5 > gpt-4 >
// gpt-3.5; Gemini by name), within the requested model's family when the
// provider lists any of it, and among models the AI-credit guard can
// price when a budget without a default price is set.
func (c *Config) middlePower(requested, provider string, catalog []string, log *[]string) (Resolution, bool) {
	if !c.fallbackFor(provider) || len(catalog) == 0 {
		return Resolution{}, false
	}
	key := strings.ToLower(requested)
	family := ""
	switch {
	case gptFamily.MatchString(key):
		family = gptFamily.FindStringSubmatch(key)[1]
	case strings.Contains(key, "claude"):
		family = "claude"
	case strings.Contains(key, "gemini"):
		family = "gemini"
	}
	pool := catalog
	if family != "" {
		var fam []string
		for _, m := range catalog {
			if strings.HasPrefix(strings.ToLower(m), family) {
				fam = append(fam, m)
			}
		}
		if len(fam) > 0 {
			pool = fam
		}
	}
	if c.MaxAICredits > 0 && c.DefaultPricing == nil {
		var priced []string
		for _, m := range pool {
			if _, ok := Pricing.Lookup(m); ok || isDynamicSelector(provider, m) {
				priced = append(priced, m)
			} else if _, ok := c.overlay(provider, m); ok {
				priced = append(priced, m)
			}
		}
		if len(priced) > 0 {
			pool = priced
		}
	}
	ranked := dedupe(append([]string(nil), pool...))
	tier := func(m string) int {
		m = strings.ToLower(m)
		switch provider {
		case "anthropic":
			switch {
			case strings.Contains(m, "opus"):
				return 5
			case strings.Contains(m, "sonnet"):
				return 4
			case strings.Contains(m, "haiku"):
				return 3
			}
		default:
			switch {
			case gpt5Tier.MatchString(m):
				return 5
			case gpt4Tier.MatchString(m) || strings.Contains(m, "gpt-4o"):
				return 4
			case strings.Contains(m, "gpt-3.5"):
				return 3
			}
		}
		return 1
	}
	sort.SliceStable(ranked, func(i, j int) bool {
		if tierProvider[provider] {
			if ti, tj := tier(ranked[i]), tier(ranked[j]); ti != tj {
				return ti > tj
			}
		}
		return ranked[i] < ranked[j]
	})
	pick := ranked[(len(ranked)-1)/2]
	*log = append(*log, fmt.Sprintf("middle-power fallback: %q → %q", requested, pick))
	return Resolution{Model: pick, Candidates: ranked, Fallback: true}, true
}

func (c *Config) findAlias(key string) (string, Alias, bool) {
	if a, ok := c.Aliases[key]; ok {
		return key, a, true
	}
	// Case-insensitive, deterministic when two keys differ only in case.
	names := make([]string, 0, len(c.Aliases))
	for k := range c.Aliases {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if strings.ToLower(k) == key {
			return k, c.Aliases[k], true
		}
	}
	return "", Alias{}, false
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	out := xs[:0:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

var digits = regexp.MustCompile(`\d+`)

// sortByVersion orders models by their numeric parts, highest first, then
// by name.
func sortByVersion(ms []string) []string {
	ver := func(s string) []int {
		var v []int
		for _, d := range digits.FindAllString(s, -1) {
			n, _ := strconv.Atoi(d)
			v = append(v, n)
		}
		return v
	}
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := ver(ms[i]), ver(ms[j])
		for k := 0; k < max(len(a), len(b)); k++ {
			x, y := 0, 0
			if k < len(a) {
				x = a[k]
			}
			if k < len(b) {
				y = b[k]
			}
			if x != y {
				return x > y
			}
		}
		return ms[i] < ms[j]
	})
	return ms
}

// ValidateRequested looks for the requested model (apiProxy.requestedModel)
// in the providers' catalogues, directly or through an alias, without the
// fallback (only genuine matches count). via is "direct" or "alias".
func (c *Config) ValidateRequested(catalogs map[string][]string) (provider, via string, ok bool) {
	cc := *c
	cc.ModelFallback.Disabled = true
	names := make([]string, 0, len(catalogs))
	for p := range catalogs {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if r, found := cc.resolve(c.RequestedModel, p, catalogs[p], nil, true, new([]string)); found {
			via = "direct"
			if !strings.EqualFold(r.Model, c.RequestedModel) {
				via = "alias"
			}
			return p, via, true
		}
	}
	return "", "", false
}
