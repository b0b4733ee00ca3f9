// Package apireflect is the api-proxy's /reflect document and the
// awf-reflect.json file gh-aw reads after a run.
//
// gh-aw's agent harnesses (AWF_REFLECT_ENABLED=1) fetch
// http://api-proxy:10000/reflect from inside the sandbox, fill in model
// lists from each endpoint's models_url and save the result as
// /tmp/gh-aw/sandbox/firewall/awf-reflect.json, which the
// awf_reflect_summary step renders. The document has the original's shape:
// one entry per provider endpoint (provider, port, base_url on the
// api-proxy host name, configured, models, model_metadata, models_url) and
// models_fetch_complete. awf does not fetch model lists at start-up, so
// models is null and models_fetch_complete is true (nothing is pending);
// the harness then asks each models_url, which the api-proxy forwards with
// the real key.
package apireflect

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// Host is the api-proxy's host name inside the sandbox, as in the original's
// Docker network; the base and models URLs use it.
const Host = "api-proxy"

// FileName is the file gh-aw's summary step reads.
const FileName = "awf-reflect.json"

// Endpoint is one provider's entry.
type Endpoint struct {
	Provider      string   `json:"provider"`
	Port          int      `json:"port"`
	BaseURL       string   `json:"base_url"`
	Configured    bool     `json:"configured"`
	Models        []string `json:"models"`
	ModelMetadata any      `json:"model_metadata"`
	ModelsURL     *string  `json:"models_url"`
	// AuthType is the original's reflectionExtra for the providers with
	// keyless auth: static-key or github-oidc/<provider>.
	AuthType string `json:"auth_type,omitempty"`
}

// Provider is what the document needs to know about one provider.
type Provider struct {
	Name       string
	Port       int
	Configured bool
	BasePath   string // the upstream path prefix, if any
	AuthType   string // "" (not reported), static-key or github-oidc/<provider>
}

// modelsPaths are the providers' model-list paths (the original's
// adapters); a base path replaces the default for Copilot.
var modelsPaths = map[string]string{
	"openai":    "/v1/models",
	"anthropic": "/v1/models",
	"copilot":   "/models",
	"gemini":    "/v1beta/models",
}

// ModelsPath is where provider p lists its models on the api-proxy.
func ModelsPath(p Provider) string {
	if p.Name == "copilot" && p.BasePath != "" && p.BasePath != "/" {
		return p.BasePath + "/models"
	}
	return modelsPaths[p.Name]
}

// Document builds the /reflect body. extra adds top-level fields (guard
// states); it never replaces endpoints or models_fetch_complete.
func Document(ps []Provider, extra map[string]any) map[string]any {
	eps := make([]Endpoint, 0, len(ps))
	for _, p := range ps {
		e := Endpoint{Provider: p.Name, Port: p.Port, BaseURL: fmt.Sprintf("http://%s:%d", Host, p.Port), Configured: p.Configured, AuthType: p.AuthType}
		if mp := ModelsPath(p); mp != "" {
			u := e.BaseURL + mp
			e.ModelsURL = &u
		}
		eps = append(eps, e)
	}
	doc := map[string]any{"model_aliases": nil}
	for k, v := range extra {
		doc[k] = v
	}
	doc["endpoints"] = eps
	doc["models_fetch_complete"] = true
	return doc
}

// ErrExists: the file is already there (the harness saved its own copy,
// with model lists); it is left alone.
var ErrExists = errors.New("exists")

// WriteNew creates path with data, only if it does not exist, without
// following a symlink in any component. The directory is typically inside
// /tmp/gh-aw, which the agent could write: as root awf must neither
// overwrite a file there nor be steered elsewhere by a planted link.
func WriteNew(path string, data []byte) error {
	fd, err := unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_CLOEXEC,
		Mode:    0o644,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.EEXIST) {
		return ErrExists
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil { // umask-independent: gh-aw's steps read it as the runner user
		f.Close()
		return err
	}
	return f.Close()
}

// HostsEntry is the sandbox's /etc/hosts line that makes the api-proxy's
// host name resolve as in the original's Docker network (gh-aw's harness
// fetches http://api-proxy:10000/reflect); "" when the api-proxy is off.
func HostsEntry(enabled bool, ip netip.Addr) string {
	if !enabled || !ip.IsValid() {
		return ""
	}
	return "\n" + ip.String() + "\t" + Host + "\n"
}
