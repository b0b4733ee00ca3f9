package guards

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// EnvProviders carries apiProxy.providers: operator prices in the
// models.dev layout, {"<provider>": {"models": {"<model>": {"cost":
// {"input": "3e-06", "output": ..., "cache_read": ..., "cache_write": ...}}}}},
// in USD per token. They win over the table for that provider.
const EnvProviders = "AWF_API_PROXY_PROVIDERS"

// SourceOperator marks a price from apiProxy.providers.
const SourceOperator = "operator"

// providerAliases are the names an overlay may use for each provider.
var providerAliases = map[string][]string{
	"copilot": {"copilot", "github-copilot", "github"},
	"gemini":  {"gemini", "google"},
}

// ParseProviders reads apiProxy.providers into provider -> canonical model
// -> price (USD per 1M tokens). An entry without usable input and output
// rates is reported.
func ParseProviders(v string) (map[string]map[string]Price, error) {
	var raw map[string]struct {
		Models map[string]struct {
			Cost map[string]any `json:"cost"`
		} `json:"models"`
	}
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, err
	}
	out := map[string]map[string]Price{}
	for prov, pm := range raw {
		for model, e := range pm.Models {
			p, err := overlayPrice(e.Cost)
			if err != nil {
				return nil, fmt.Errorf("%s/%s: %v", prov, model, err)
			}
			if out[prov] == nil {
				out[prov] = map[string]Price{}
			}
			out[prov][overlayCanonical(model)] = p
		}
	}
	return out, nil
}

func overlayPrice(cost map[string]any) (Price, error) {
	rate := func(k string) (float64, bool, error) {
		v, ok := cost[k]
		if !ok {
			return 0, false, nil
		}
		var f float64
		var err error
		switch x := v.(type) {
		case float64:
			f = x
		case string:
			f, err = strconv.ParseFloat(x, 64)
		default:
			err = fmt.Errorf("not a number")
		}
		if err != nil || f < 0 {
			return 0, true, fmt.Errorf("cost.%s is not a non-negative number", k)
		}
		return f * 1e6, true, nil
	}
	in, okIn, err := rate("input")
	if err != nil {
		return Price{}, err
	}
	outR, okOut, err := rate("output")
	if err != nil {
		return Price{}, err
	}
	if !okIn || !okOut {
		return Price{}, fmt.Errorf("cost.input and cost.output are required")
	}
	p := Price{Input: in, Output: outR, CachedInput: in * 0.1, CacheWrite: -1, Source: SourceOperator}
	if v, ok, err := rate("cache_read"); err != nil {
		return Price{}, err
	} else if ok {
		p.CachedInput = v
	}
	if v, ok, err := rate("cache_write"); err != nil {
		return Price{}, err
	} else if ok {
		p.CacheWrite = v
	}
	return p, nil
}

// overlayCanonical is the overlay's model key form: no provider prefix,
// '.' and '_' as '-', lower case (no date stripping, as the original).
func overlayCanonical(m string) string {
	if i := strings.IndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	return strings.ToLower(strings.NewReplacer(".", "-", "_", "-").Replace(m))
}

// overlay finds an operator price: the exact canonical model, else the
// longest '-'-delimited prefix.
func (c *Config) overlay(provider, model string) (Price, bool) {
	if len(c.ProviderPrices) == 0 || model == "" {
		return Price{}, false
	}
	names := providerAliases[provider]
	if names == nil {
		names = []string{provider}
	}
	for _, n := range names {
		models := c.ProviderPrices[n]
		if models == nil {
			continue
		}
		cm := overlayCanonical(model)
		if p, ok := models[cm]; ok {
			return p, true
		}
		best, bp := "", Price{}
		for k, p := range models {
			if len(k) > len(best) && strings.HasPrefix(cm, k+"-") {
				best, bp = k, p
			}
		}
		return bp, best != ""
	}
	return Price{}, false
}

// resolve prices a model: the operator's overlay first, then the table.
func (g *Guards) resolve(provider, model string, settle bool) (Price, string, bool) {
	if p, ok := g.cfg.overlay(provider, model); ok {
		return p, SourceOperator, true
	}
	return g.price.resolvePrice(provider, model, g.cfg.DefaultPricing, settle)
}
