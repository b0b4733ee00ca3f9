package apiproxy

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricPrefix namespaces the Prometheus names; the JSON view at /metrics
// drops it so its keys match the original sidecar's.
const metricPrefix = "awf_api_proxy_"

// durationBuckets are the original's histogram bounds in milliseconds.
var durationBuckets = []float64{10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}

// metrics is the single source of truth for both /metrics views: Prometheus
// text for scrapers, and the original JSON shape rendered from the same
// registry on demand.
type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	errors     *prometheus.CounterVec
	reqBytes   *prometheus.CounterVec
	respBytes  *prometheus.CounterVec
	rateLimit  *prometheus.CounterVec
	inTokens   *prometheus.CounterVec
	outTokens  *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	active     *prometheus.GaugeVec
	start      time.Time
	totalReqs  atomic.Int64 // for /health, which must stay cheap
	totalErrs  atomic.Int64
	activeReqs atomic.Int64
	latencySum atomic.Int64 // microseconds
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), start: time.Now()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricPrefix + name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	m.requests = counter("requests_total", "Proxied requests by provider, method and status class.", "provider", "method", "status_class")
	m.errors = counter("requests_errors_total", "Requests that failed in the proxy or upstream.", "provider")
	m.reqBytes = counter("request_bytes_total", "Request body bytes sent upstream.", "provider")
	m.respBytes = counter("response_bytes_total", "Response body bytes sent to clients.", "provider")
	m.rateLimit = counter("rate_limit_rejected_total", "Requests rejected by the rate limiter.", "provider", "limit_type")
	m.inTokens = counter("input_tokens_total", "Input tokens reported by upstream responses.", "provider")
	m.outTokens = counter("output_tokens_total", "Output tokens reported by upstream responses.", "provider")
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: metricPrefix + "request_duration_ms", Help: "Request duration in milliseconds.", Buckets: durationBuckets,
	}, []string{"provider"})
	m.active = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricPrefix + "active_requests", Help: "Requests in flight."}, []string{"provider"})
	m.reg.MustRegister(m.duration, m.active, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: metricPrefix + "uptime_seconds", Help: "Seconds since start.",
	}, func() float64 { return time.Since(m.start).Seconds() }))
	return m
}

// providerMetrics are one provider's series, resolved once: the label
// lookups would otherwise hash on every request.
type providerMetrics struct {
	active                                           prometheus.Gauge
	errors, reqBytes, respBytes, inTokens, outTokens prometheus.Counter
	duration                                         prometheus.Observer
}

func (m *metrics) forProvider(name string) *providerMetrics {
	return &providerMetrics{
		active:    m.active.WithLabelValues(name),
		errors:    m.errors.WithLabelValues(name),
		reqBytes:  m.reqBytes.WithLabelValues(name),
		respBytes: m.respBytes.WithLabelValues(name),
		inTokens:  m.inTokens.WithLabelValues(name),
		outTokens: m.outTokens.WithLabelValues(name),
		duration:  m.duration.WithLabelValues(name),
	}
}

func statusClass(code int) string { return strconv.Itoa(code/100) + "xx" }

// jsonView renders the registry in the original sidecar's /metrics shape:
// counters keyed "name:labelvalue:...", histograms with p50/p90/p99 by
// linear interpolation, gauges by label key ("_" for no labels).
func (m *metrics) jsonView() map[string]any {
	counters := map[string]float64{}
	histograms := map[string]map[string]any{}
	gauges := map[string]any{}
	families, _ := m.reg.Gather()
	for _, f := range families {
		name := strings.TrimPrefix(f.GetName(), metricPrefix)
		for _, mt := range f.GetMetric() {
			key := labelKey(mt.GetLabel())
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				counters[name+":"+key] = mt.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				if name == "uptime_seconds" {
					gauges[name] = math.Floor(mt.GetGauge().GetValue())
					continue
				}
				g, _ := gauges[name].(map[string]float64)
				if g == nil {
					g = map[string]float64{}
					gauges[name] = g
				}
				g[key] = mt.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				if histograms[name] == nil {
					histograms[name] = map[string]any{}
				}
				histograms[name][key] = histogramJSON(mt.GetHistogram())
			}
		}
	}
	return map[string]any{"counters": counters, "histograms": histograms, "gauges": gauges}
}

func labelKey(ls []*dto.LabelPair) string {
	if len(ls) == 0 {
		return "_"
	}
	// Prometheus sorts label pairs by name; the original joins values in
	// declaration order, which for our vectors is provider first.
	vals := make([]string, len(ls))
	order := map[string]int{"provider": 0, "method": 1, "status_class": 2, "limit_type": 1}
	sorted := append([]*dto.LabelPair(nil), ls...)
	sort.SliceStable(sorted, func(i, j int) bool { return order[sorted[i].GetName()] < order[sorted[j].GetName()] })
	for i, l := range sorted {
		vals[i] = l.GetValue()
	}
	return strings.Join(vals, ":")
}

func histogramJSON(h *dto.Histogram) map[string]any {
	buckets := map[string]uint64{}
	for _, b := range h.GetBucket() {
		buckets[strconv.FormatFloat(b.GetUpperBound(), 'f', -1, 64)] = b.GetCumulativeCount()
	}
	buckets["+Inf"] = h.GetSampleCount()
	return map[string]any{
		"p50": quantile(h, 0.50), "p90": quantile(h, 0.90), "p99": quantile(h, 0.99),
		"count": h.GetSampleCount(), "sum": h.GetSampleSum(), "buckets": buckets,
	}
}

// quantile interpolates linearly inside the bucket holding rank q.
func quantile(h *dto.Histogram, q float64) float64 {
	total := h.GetSampleCount()
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	lower, prev := 0.0, uint64(0)
	for _, b := range h.GetBucket() {
		cum := b.GetCumulativeCount()
		if float64(cum) >= rank {
			inBucket := float64(cum - prev)
			if inBucket == 0 {
				return b.GetUpperBound()
			}
			return lower + (b.GetUpperBound()-lower)*(rank-float64(prev))/inBucket
		}
		lower, prev = b.GetUpperBound(), cum
	}
	return lower // rank falls in +Inf: the best known bound
}
