package logs

import (
	"math"
	"path/filepath"
	"sort"
	"strings"
)

// DomainStats are the counts of one destination.
type DomainStats struct {
	Domain   string `json:"-"`
	Allowed  int64  `json:"allowed"`
	Denied   int64  `json:"denied"`
	Total    int64  `json:"total"`
	BytesIn  *int64 `json:"bytesIn,omitempty"`
	BytesOut *int64 `json:"bytesOut,omitempty"`
}

// TimeRange is the span of the log, in Unix seconds.
type TimeRange struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// Stats is the aggregate of a log: the original's shape, with bytes per
// domain (when the egress proxy recorded them), token usage and a count of
// the lines that were skipped.
type Stats struct {
	TotalRequests   int64
	AllowedRequests int64
	DeniedRequests  int64
	UniqueDomains   int
	TimeRange       *TimeRange
	ByDomain        []*DomainStats // total descending, then name
	ByRule          []RuleStat     // nil without a manifest
	HasBytes        bool
	BytesIn         int64
	BytesOut        int64
	TokenUsage      *TokenUsage
	Budget          *Budget        // guards.json, when the api-proxy had budgets (budget.go)
	Ignored         []IgnoredEntry // allowlist entries the run did not honour (manifest)
	Reports         []ParseReport
}

// MalformedLines is how many log lines were skipped.
func (s *Stats) MalformedLines() int {
	n := 0
	for _, r := range s.Reports {
		n += r.Skipped()
	}
	return n
}

// Aggregator folds entries into Stats; it keeps one record per domain.
type Aggregator struct {
	s        Stats
	byDomain map[string]*DomainStats
	min, max float64
	entries  int64
	attr     *Attributor
	rules    RuleCounter
	manifest *Manifest
}

// NewAggregator starts an aggregation; with a manifest it also counts the
// hits of each rule.
func NewAggregator(m *Manifest) *Aggregator {
	a := &Aggregator{byDomain: map[string]*DomainStats{}, min: math.Inf(1), max: math.Inf(-1)}
	if m != nil {
		a.manifest, a.attr, a.rules = m, NewAttributor(m), RuleCounter{}
	}
	return a
}

// Add counts one entry.
func (a *Aggregator) Add(e *Entry) {
	a.entries++
	if e.Timestamp < a.min {
		a.min = e.Timestamp
	}
	if e.Timestamp > a.max {
		a.max = e.Timestamp
	}
	if e.Benign() {
		return
	}
	s := &a.s
	s.TotalRequests++
	if e.IsAllowed {
		s.AllowedRequests++
	} else {
		s.DeniedRequests++
	}
	d := e.Domain
	if d == "" {
		d = "-"
	}
	ds := a.byDomain[d]
	if ds == nil {
		// Clone: d may share memory with the whole log line.
		ds = &DomainStats{Domain: strings.Clone(d)}
		a.byDomain[d] = ds
	}
	ds.Total++
	if e.IsAllowed {
		ds.Allowed++
	} else {
		ds.Denied++
	}
	if e.HasBytes {
		s.HasBytes = true
		if ds.BytesIn == nil {
			ds.BytesIn, ds.BytesOut = new(int64), new(int64)
		}
		*ds.BytesIn += e.BytesIn
		*ds.BytesOut += e.BytesOut
		s.BytesIn += e.BytesIn
		s.BytesOut += e.BytesOut
	}
	if a.attr != nil {
		a.rules[a.attr.Attribute(e).RuleID]++
	}
}

// Result finishes the aggregation.
func (a *Aggregator) Result() *Stats {
	s := a.s
	s.UniqueDomains = len(a.byDomain)
	if a.entries > 0 {
		s.TimeRange = &TimeRange{Start: a.min, End: a.max}
	}
	s.ByDomain = make([]*DomainStats, 0, len(a.byDomain))
	for _, d := range a.byDomain {
		if s.HasBytes && d.BytesIn == nil {
			d.BytesIn, d.BytesOut = new(int64), new(int64)
		}
		s.ByDomain = append(s.ByDomain, d)
	}
	sort.Slice(s.ByDomain, func(i, j int) bool {
		x, y := s.ByDomain[i], s.ByDomain[j]
		if x.Total != y.Total {
			return x.Total > y.Total
		}
		return x.Domain < y.Domain
	})
	if a.manifest != nil {
		s.ByRule = a.rules.Stats(a.manifest)
		s.Ignored = a.manifest.IgnoredEntries
	}
	return &s
}

// LoadStats aggregates a source: its log (audit.jsonl preferred), rule hits
// when a manifest is found, and token usage when a token-usage.jsonl is.
func LoadStats(src Source, auditDirEnv string) (*Stats, error) {
	var m *Manifest
	dir := src.Dir()
	if dir != "" {
		m, _ = FindManifest(dir, auditDirEnv)
	}
	agg := NewAggregator(m)
	reps, err := ScanSource(src, agg.Add)
	if err != nil {
		return nil, err
	}
	s := agg.Result()
	s.Reports = reps
	if dir != "" {
		if p := FindTokenUsage(dir); p != "" {
			if u, rep, err := LoadTokenUsage(p); err == nil {
				s.TokenUsage = u
				s.Reports = append(s.Reports, rep)
			}
			if b := LoadBudget(filepath.Dir(p)); budgetWorthShowing(b) {
				s.Budget = b
			}
		}
	}
	return s, nil
}
