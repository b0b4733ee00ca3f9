package apiproxy

import (
	"github.com/awf-dev/awf/internal/apireflect"
	"github.com/awf-dev/awf/internal/usage"
)

// RequestHook is told about each request that goes upstream (awf uses it
// for the otel.jsonl spans); the function it returns is called exactly
// once, when the request is finished, with the status the agent got.
type RequestHook func(provider, method, path, requestID string) func(status int, streaming bool, u usage.Usage)

// Reflect is the /reflect document of the management port, in the
// original's shape (internal/apireflect); awf also saves it as
// awf-reflect.json for gh-aw.
func (s *Server) Reflect() map[string]any {
	ps := make([]apireflect.Provider, 0, len(Providers))
	for _, p := range Providers {
		ps = append(ps, apireflect.Provider{Name: p.Name, Port: p.Port, Configured: s.cfg.Enabled(p), BasePath: s.cfg.BasePaths[p.Name], AuthType: s.cfg.reflectAuthType(p)})
	}
	var extra map[string]any
	if s.cfg.ReflectExtra != nil {
		extra = s.cfg.ReflectExtra()
	}
	return apireflect.Document(ps, s.withGuardReflect(extra))
}
