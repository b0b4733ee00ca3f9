package configfile

// Keys that gh-aw writes today but the published schema we embed
// (SchemaCommit) does not yet describe. gh-aw v0.28.31 lock files declare
// `$schema: .../v0.28.31/awf-config.schema.json` and carry these keys; a
// user moving such a workflow to awf must not be stopped at load time, so
// the embedded schema is extended by exactly these definitions, and every
// other unknown key is still refused (closed world). Each entry records
// where the key was seen. The schema file itself stays verbatim.
var schemaExtensions = []schemaExtension{
	{
		// apiProxy.hostedWeb.<engine>.enabled: whether the engine's
		// provider-hosted web tools (Claude's web_search / web_fetch server
		// tools) may be used. Seen in gh-aw v0.28.31 smoke-claude.lock.yml.
		Parent: []string{"apiProxy"},
		Key:    "hostedWeb",
		Schema: map[string]any{
			"type":        "object",
			"description": "Provider-hosted web tools per engine (gh-aw v0.28.31).",
			"additionalProperties": map[string]any{
				"type":                 "object",
				"additionalProperties": false,
				"properties": map[string]any{
					"enabled": map[string]any{"type": "boolean"},
				},
			},
		},
		SeenIn: "github/gh-aw .github/workflows/smoke-claude.lock.yml (awf v0.28.31)",
	},
	{
		// cloudHypervisor.mountPolicy: which host paths the microVM sees.
		// Seen in gh-aw v0.28.31 smoke-gemini.lock.yml.
		Parent: []string{"cloudHypervisor"},
		Key:    "mountPolicy",
		Schema: map[string]any{
			"type":        "string",
			"description": "Cloud Hypervisor mount policy (gh-aw v0.28.31).",
		},
		SeenIn: "github/gh-aw .github/workflows/smoke-gemini.lock.yml (awf v0.28.31)",
	},
	{
		// security.allowUrls: --allow-urls as a document key. The original
		// has the flag but no key for it (awf's addition, same strings
		// and checks as the flag; needs security.sslBump).
		Parent: []string{"security"},
		Key:    "allowUrls",
		Schema: map[string]any{
			"type":        "array",
			"items":       map[string]any{"type": "string"},
			"description": "URL patterns allowed for HTTPS (--allow-urls; requires sslBump). awf extension.",
		},
		SeenIn: "awf: --allow-urls of the original CLI, which has no config key",
	},
	{
		// security.injectCredentials: --inject-credential (awf's own
		// feature, internal/credinject), one spec per entry.
		Parent: []string{"security"},
		Key:    "injectCredentials",
		Schema: map[string]any{
			"type":        "array",
			"items":       map[string]any{"type": "string", "pattern": "^[^:=]+:[^=]+=.*\\$"},
			"description": "Credentials injected for hosts by the egress proxy: 'HOST[,HOST...]:Header=VALUE' with $VAR from awf's environment (--inject-credential). awf extension.",
		},
		SeenIn: "awf: --inject-credential",
	},
}

type schemaExtension struct {
	Parent []string // property path of the object that gains Key
	Key    string
	Schema map[string]any
	SeenIn string
}

// extendSchema adds schemaExtensions to a decoded schema document. It
// reports an extension whose parent is missing or that the schema already
// has, so adopting a newer published schema makes the stale entry fail
// loudly in tests instead of silently shadowing the real definition.
func extendSchema(doc any) error {
	root, ok := doc.(map[string]any)
	if !ok {
		return errNotObject
	}
	for _, ext := range schemaExtensions {
		node := root
		for _, p := range ext.Parent {
			props, _ := node["properties"].(map[string]any)
			next, _ := props[p].(map[string]any)
			if next == nil {
				return &extError{ext: ext, msg: "parent not in schema"}
			}
			node = next
		}
		props, _ := node["properties"].(map[string]any)
		if props == nil {
			return &extError{ext: ext, msg: "parent has no properties"}
		}
		if _, exists := props[ext.Key]; exists {
			return &extError{ext: ext, msg: "already defined by the embedded schema: remove the extension"}
		}
		props[ext.Key] = ext.Schema
	}
	return nil
}

type extError struct {
	ext schemaExtension
	msg string
}

func (e *extError) Error() string {
	return "schema extension " + joinPath(e.ext.Parent, e.ext.Key) + ": " + e.msg
}

func joinPath(parent []string, key string) string {
	s := ""
	for _, p := range parent {
		s += p + "."
	}
	return s + key
}

type constError string

func (e constError) Error() string { return string(e) }

const errNotObject = constError("schema is not an object")
