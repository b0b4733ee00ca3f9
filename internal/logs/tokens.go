package logs

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/awf-dev/awf/internal/usage"
)

// TokenRecord is one line of the api-proxy's token-usage.jsonl: the record
// the api-proxy writes, read back.
type TokenRecord = usage.Record

// ParseTokenLine parses one token-usage.jsonl line. A record needs at least
// a provider: anything else is not something the api-proxy wrote.
func ParseTokenLine(line []byte) (TokenRecord, error) {
	var r TokenRecord
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return r, errMalformed
	}
	if err := json.Unmarshal(line, &r); err != nil || r.Provider == "" {
		return r, errMalformed
	}
	if r.Model == "" {
		r.Model = "unknown"
	}
	return r, nil
}

// TokenCounts are the sums over a set of LLM calls.
type TokenCounts struct {
	Calls            int64 `json:"calls"`
	InputTokens      int64 `json:"inputTokens"`
	OutputTokens     int64 `json:"outputTokens"`
	CacheReadTokens  int64 `json:"cacheReadTokens"`
	CacheWriteTokens int64 `json:"cacheWriteTokens"`
	DurationMs       int64 `json:"durationMs"`
	ResponseBytes    int64 `json:"responseBytes"`
}

func (c *TokenCounts) add(r *TokenRecord) {
	c.Calls++
	c.InputTokens += r.InputTokens
	c.OutputTokens += r.OutputTokens
	c.CacheReadTokens += r.CacheReadTokens
	c.CacheWriteTokens += r.CacheWriteTokens
	c.DurationMs += r.DurationMs
	c.ResponseBytes += r.ResponseBytes
}

// ProviderUsage is the usage of one provider.
type ProviderUsage struct {
	Provider string `json:"provider"`
	TokenCounts
}

// ModelUsage is the usage of one model of one provider.
type ModelUsage struct {
	Provider string `json:"provider"`
	Model    string `json:"model"`
	TokenCounts
}

// TokenUsage is token-usage.jsonl summed per provider and per model.
type TokenUsage struct {
	File       string          `json:"file"`
	Total      TokenCounts     `json:"total"`
	ByProvider []ProviderUsage `json:"byProvider"`
	ByModel    []ModelUsage    `json:"byModel"`
}

type modelKey struct{ provider, model string }

// TokenAggregator sums token records; memory grows with the number of
// distinct provider/model pairs only.
type TokenAggregator struct {
	total      TokenCounts
	byProvider map[string]*TokenCounts
	byModel    map[modelKey]*TokenCounts
}

func NewTokenAggregator() *TokenAggregator {
	return &TokenAggregator{byProvider: map[string]*TokenCounts{}, byModel: map[modelKey]*TokenCounts{}}
}

func (a *TokenAggregator) Add(r *TokenRecord) {
	a.total.add(r)
	p := a.byProvider[r.Provider]
	if p == nil {
		p = &TokenCounts{}
		a.byProvider[r.Provider] = p
	}
	p.add(r)
	k := modelKey{r.Provider, r.Model}
	m := a.byModel[k]
	if m == nil {
		m = &TokenCounts{}
		a.byModel[k] = m
	}
	m.add(r)
}

// Result returns the sums, providers and models ordered by calls, then name.
func (a *TokenAggregator) Result(file string) *TokenUsage {
	u := &TokenUsage{File: file, Total: a.total, ByProvider: []ProviderUsage{}, ByModel: []ModelUsage{}}
	for p, c := range a.byProvider {
		u.ByProvider = append(u.ByProvider, ProviderUsage{Provider: p, TokenCounts: *c})
	}
	sort.Slice(u.ByProvider, func(i, j int) bool {
		x, y := u.ByProvider[i], u.ByProvider[j]
		if x.Calls != y.Calls {
			return x.Calls > y.Calls
		}
		return x.Provider < y.Provider
	})
	for k, c := range a.byModel {
		u.ByModel = append(u.ByModel, ModelUsage{Provider: k.provider, Model: k.model, TokenCounts: *c})
	}
	sort.Slice(u.ByModel, func(i, j int) bool {
		x, y := u.ByModel[i], u.ByModel[j]
		if x.Calls != y.Calls {
			return x.Calls > y.Calls
		}
		if x.Provider != y.Provider {
			return x.Provider < y.Provider
		}
		return x.Model < y.Model
	})
	return u
}

// LoadTokenUsage sums a token-usage.jsonl file.
func LoadTokenUsage(path string) (*TokenUsage, ParseReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, ParseReport{File: path}, err
	}
	defer f.Close()
	agg := NewTokenAggregator()
	rep, err := scanLines(f, path, func(line []byte) bool {
		r, err := ParseTokenLine(line)
		if err != nil {
			return false
		}
		agg.Add(&r)
		return true
	})
	if err != nil {
		return nil, rep, err
	}
	return agg.Result(path), rep, nil
}

// TokenUsageCandidates lists where the api-proxy's token-usage.jsonl of the
// run whose egress logs are in dir may be, in the order they are tried:
//   - dir itself;
//   - dir/api-proxy-logs (--proxy-logs-dir: egress logs at the top, the
//     api-proxy's in a subdirectory);
//   - the sibling ../api-proxy-logs (a work dir: squid-logs/ next to
//     api-proxy-logs/);
//   - the preserved twin: /tmp/squid-logs-<ts> -> /tmp/api-proxy-logs-<ts>.
func TokenUsageCandidates(dir string) []string {
	const name = "token-usage.jsonl"
	c := []string{
		filepath.Join(dir, name),
		filepath.Join(dir, "api-proxy-logs", name),
		filepath.Join(filepath.Dir(dir), "api-proxy-logs", name),
	}
	base := filepath.Base(dir)
	if strings.HasPrefix(base, "squid-logs-") {
		twin := "api-proxy-logs-" + strings.TrimPrefix(base, "squid-logs-")
		c = append(c, filepath.Join(filepath.Dir(dir), twin, name))
	}
	return c
}

// FindTokenUsage returns the first token-usage.jsonl that exists for dir.
func FindTokenUsage(dir string) string {
	for _, p := range TokenUsageCandidates(dir) {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}
