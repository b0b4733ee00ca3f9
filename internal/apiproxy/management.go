package apiproxy

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// health is the management port's /health body, in the original's shape.
func (s *Server) health() map[string]any {
	proxy := "not configured"
	if s.cfg.Proxy != nil {
		proxy = redactURL(s.cfg.Proxy)
	}
	providers := map[string]bool{}
	limits := map[string]any{}
	for _, p := range Providers {
		providers[p.Name] = s.cfg.Enabled(p)
		if l := s.limiters[p.Name]; l != nil {
			limits[p.Name] = l.status(time.Now())
		} else {
			limits[p.Name] = map[string]bool{"enabled": false}
		}
	}
	total := s.metrics.totalReqs.Load()
	avg := 0.0
	if total > 0 {
		avg = float64(s.metrics.latencySum.Load()) / float64(total) / 1000
	}
	return map[string]any{
		"status":      "healthy",
		"service":     "awf-api-proxy",
		"squid_proxy": proxy,
		"providers":   providers,
		"rate_limits": limits,
		"metrics_summary": map[string]any{
			"total_requests":  total,
			"total_errors":    s.metrics.totalErrs.Load(),
			"active_requests": s.metrics.activeReqs.Load(),
			"avg_latency_ms":  avg,
		},
	}
}

// serveMetrics answers the original JSON by default and Prometheus text
// exposition to scrapers (which ask for text/plain or OpenMetrics) or to
// ?format=prometheus.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	accept := r.Header.Get("Accept")
	wantsProm := r.URL.Query().Get("format") == "prometheus" ||
		(!strings.Contains(accept, "application/json") &&
			(strings.Contains(accept, "text/plain") || strings.Contains(accept, "application/openmetrics-text")))
	if wantsProm {
		promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
		return
	}
	writeJSON(w, http.StatusOK, s.metrics.jsonView())
}
