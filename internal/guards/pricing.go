package guards

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
)

// Price is one model's rates in USD per 1M tokens. CacheWrite < 0 means the
// model has no cache-write rate (such tokens then cost nothing, as in the
// original).
type Price struct {
	Input       float64 `json:"input"`
	CachedInput float64 `json:"cached_input"`
	CacheWrite  float64 `json:"cache_write"`
	Output      float64 `json:"output"`
	Source      string  `json:"source,omitempty"`
}

// UnmarshalJSON reads a price; a missing or null cache_write means "none".
func (p *Price) UnmarshalJSON(b []byte) error {
	var raw struct {
		Input       float64  `json:"input"`
		CachedInput *float64 `json:"cached_input"`
		CacheWrite  *float64 `json:"cache_write"`
		Output      float64  `json:"output"`
		Source      string   `json:"source"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*p = Price{Input: raw.Input, Output: raw.Output, CacheWrite: -1, Source: raw.Source}
	if raw.CachedInput != nil {
		p.CachedInput = *raw.CachedInput
	} else {
		p.CachedInput = raw.Input * 0.1
	}
	if raw.CacheWrite != nil {
		p.CacheWrite = *raw.CacheWrite
	}
	return nil
}

// PricingTable is the embedded pricing data (pricing.json): a versioned
// file, so a price change is a data change with a date and a source.
type PricingTable struct {
	Version          string            `json:"version"`
	Date             string            `json:"date"`
	Source           string            `json:"source"`
	Unit             string            `json:"unit"`
	USDPerCredit     float64           `json:"usd_per_credit"`
	HardCapCredits   float64           `json:"hard_cap_credits"`
	UnknownFallback  Price             `json:"unknown_fallback"`
	DynamicCeiling   Price             `json:"dynamic_selector_ceiling"`
	Retired          map[string]string `json:"retired"`
	Models           map[string]Price  `json:"models"`
	canon            map[string]string // canonical key -> table key
	dynamicSelectorP Price
	cache            sync.Map // model -> lookupResult
	cached           atomic.Int64
}

//go:embed pricing.json
var pricingJSON []byte

// Pricing is the table every Guards uses.
var Pricing = mustLoadPricing(pricingJSON)

func mustLoadPricing(b []byte) *PricingTable {
	t, err := LoadPricing(b)
	if err != nil {
		panic(err)
	}
	return t
}

// LoadPricing parses and checks a pricing table.
func LoadPricing(b []byte) (*PricingTable, error) {
	var t PricingTable
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("pricing table: %w", err)
	}
	if t.Version == "" || t.Date == "" || t.Source == "" || t.USDPerCredit <= 0 || t.HardCapCredits <= 0 || len(t.Models) == 0 {
		return nil, fmt.Errorf("pricing table: version, date, source, usd_per_credit, hard_cap_credits and models are required")
	}
	t.canon = map[string]string{}
	for k, p := range t.Models {
		if p.Input < 0 || p.Output < 0 || p.CachedInput < 0 {
			return nil, fmt.Errorf("pricing table: %s: negative rate", k)
		}
		t.canon[Canonical(k)] = k
	}
	// A dynamic selector (Copilot "auto") may pick any model: account it at
	// the highest rate of every category, never below the fixed ceiling.
	d := t.DynamicCeiling
	for _, p := range t.Models {
		d.Input, d.CachedInput, d.Output = math.Max(d.Input, p.Input), math.Max(d.CachedInput, p.CachedInput), math.Max(d.Output, p.Output)
		d.CacheWrite = math.Max(d.CacheWrite, p.CacheWrite)
	}
	t.dynamicSelectorP = d
	return &t, nil
}

var dateSuffix = regexp.MustCompile(`(-alpha)?-(\d{4}-\d{2}-\d{2}|\d{8})$`)

// Canonical reduces a model name for price lookup: provider prefix
// ("copilot/", "models/") and a trailing date dropped, '.' and '_' read as
// '-', lower case.
func Canonical(model string) string {
	if i := strings.IndexByte(model, '/'); i >= 0 {
		model = model[i+1:]
	}
	model = dateSuffix.ReplaceAllString(model, "")
	return strings.ToLower(strings.NewReplacer(".", "-", "_", "-").Replace(model))
}

// PriceSource says where a price came from; it is logged with each record.
const (
	SourceCurated    = "curated"
	SourceDefault    = "configured_default"
	SourceFallback   = "builtin_fallback"
	SourceDynamic    = "dynamic_selector_fallback"
	dynamicSelectorN = "copilot:auto"
)

type lookupResult struct {
	p  Price
	ok bool
}

// Lookup finds the table price of model: exact name, then canonical name,
// then the longest canonical key that is a '-'-delimited prefix. Results
// are cached (a run names few models; the cache is bounded all the same,
// since the names come from the agent).
func (t *PricingTable) Lookup(model string) (Price, bool) {
	if r, ok := t.cache.Load(model); ok {
		return r.(lookupResult).p, r.(lookupResult).ok
	}
	p, ok := t.lookup(model)
	if t.cached.Add(1) <= 1024 {
		t.cache.Store(model, lookupResult{p, ok})
	}
	return p, ok
}

func (t *PricingTable) lookup(model string) (Price, bool) {
	if p, ok := t.Models[model]; ok {
		return p, true
	}
	c := Canonical(model)
	if k, ok := t.canon[c]; ok {
		return t.Models[k], true
	}
	best := ""
	for ck := range t.canon {
		if len(ck) > len(best) && strings.HasPrefix(c, ck+"-") {
			best = ck
		}
	}
	if best != "" {
		return t.Models[t.canon[best]], true
	}
	return Price{}, false
}

// isDynamicSelector reports Copilot's "auto", whose concrete model is only
// known after the fact.
func isDynamicSelector(provider, model string) bool {
	return provider == "copilot" && strings.EqualFold(model, "auto")
}

// resolvePrice prices model for provider: table, Copilot auto's ceiling,
// the configured default, and (at settle time only, so spend is never
// lost) the built-in fallback. ok is false when nothing priced it.
func (t *PricingTable) resolvePrice(provider, model string, def *Price, settle bool) (p Price, source string, ok bool) {
	if model != "" && model != "unknown" {
		if p, ok := t.Lookup(model); ok {
			return p, SourceCurated, true
		}
		if isDynamicSelector(provider, model) {
			return t.dynamicSelectorP, SourceDynamic, true
		}
	}
	if def != nil {
		return *def, SourceDefault, true
	}
	if settle || model == "unknown" || model == "" {
		return t.UnknownFallback, SourceFallback, true
	}
	return Price{}, "", false
}

// Credits is the AI-credit cost of one response.
type Credits struct {
	Input, CachedInput, CacheWrite, Output, Total float64
	Source                                        string
}

// credits applies a price to usage. Anthropic reports input_tokens without
// the cached part; OpenAI, Copilot and Gemini include it, so it is taken
// out before the full input rate applies.
func (t *PricingTable) credits(provider string, u Usage, p Price, source string) Credits {
	nonCached := u.InputTokens
	if provider != "anthropic" {
		nonCached = max(0, u.InputTokens-u.CacheReadTokens-u.CacheWriteTokens)
	}
	den := 1e6 * t.USDPerCredit
	c := Credits{
		Input:       float64(nonCached) * p.Input / den,
		CachedInput: float64(u.CacheReadTokens) * p.CachedInput / den,
		Output:      float64(u.OutputTokens) * p.Output / den,
		Source:      source,
	}
	if p.CacheWrite > 0 {
		c.CacheWrite = float64(u.CacheWriteTokens) * p.CacheWrite / den
	}
	c.Total = c.Input + c.CachedInput + c.CacheWrite + c.Output
	return c
}

// round6 rounds to a millionth of a credit, as the original reports.
func round6(v float64) float64 { return math.Round((v+1e-16)*1e6) / 1e6 }
