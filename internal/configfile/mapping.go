package configfile

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Assignment sets one CLI flag from one document key. Each entry of Values
// is one Set call on the flag (a repeatable flag gets several).
type Assignment struct {
	Key    string // document path, e.g. "network.allowDomains"
	Flag   string // flag name without dashes
	Values []string
	// Bool marks a boolean flag: a value equal to the flag's default is
	// not applied, so `enableDind: false` never counts as "given".
	Bool bool
}

// Notice is a key that is accepted but has no effect in the native runtime,
// with the reason, as one line.
type Notice struct {
	Key, Msg string
	// Debug: the key is honoured by default (nothing for the user to
	// learn); log it at debug level only.
	Debug bool
}

// Mapped is what a document asks for, as flag assignments and notices.
type Mapped struct {
	Assignments []Assignment
	Notices     []Notice
}

type convKind int

const (
	convCSV    convKind = iota + 1 // array of strings -> one value, comma-joined (empty array: nothing)
	convEach                       // array of strings -> one value per entry
	convString                     // string
	convNumber                     // number, as written
	convBool                       // boolean
	convJSON                       // any value, as compact JSON (config-only options take JSON)
	convPorts                      // string, or array of strings comma-joined
	convScalar                     // boolean or string, as text
)

// rule maps one document key. Exactly one of Flag or Why is set.
type rule struct {
	Path string
	Flag string // the original's CLI flag, or the kebab-case of its option name for config-only keys
	Conv convKind
	// SkipIf: another key that, when present, wins over this one.
	SkipIf string
	// Why: the key has no effect natively; the notice says why.
	Why string
	// Refuse: ignoring the key would give the agent more than the document
	// allows, so a document that sets it (to anything but false or empty)
	// is refused instead.
	Refuse bool
	Debug  bool // see Notice.Debug
}

// Why-texts shared by several keys.
const (
	whyDocker     = "the native runtime runs no containers (Docker image and daemon settings do not apply)"
	whyMicroVM    = "the native runtime runs no microVM (Cloud Hypervisor settings do not apply)"
	whyChroot     = "chroot mode is how the Docker runtime shows the host's files; the native sandbox already runs on the host's filesystem"
	whyDinD       = "ARC/DinD split-filesystem staging is for a Docker daemon with its own filesystem; the native runtime has none"
	whyRunner     = "runner topology selects Docker/ARC staging; the native runtime needs none"
	whyEnclaves   = "private-repository enclaves are Docker executors behind the MCP gateway; not available in the native runtime"
	whyAlwaysOn   = "the API proxy is always on"
	whySchemaHint = ""
)

// rules is the one table from document keys to flags. Its order is the
// order assignments and notices are produced. TestEveryKeyHasARule checks
// that every property of the schema is covered (by itself or an ancestor).
var rules = []rule{
	{Path: "$schema", Why: whySchemaHint}, // an editor hint; nothing to do

	{Path: "network.allowDomains", Flag: "allow-domains", Conv: convCSV},
	{Path: "network.blockDomains", Flag: "block-domains", Conv: convCSV},
	{Path: "network.dnsServers", Flag: "dns-servers", Conv: convCSV},
	{Path: "network.upstreamProxy", Flag: "upstream-proxy", Conv: convString},
	{Path: "network.isolation", Flag: "network-isolation", Conv: convBool}, // false -> --no-network-isolation (see flagFor)
	{Path: "network.topologyAttach", Flag: "topology-attach", Conv: convEach},

	{Path: "filesystem.allowWrite", Refuse: true, Why: "the native runtime cannot yet narrow writable mounts to these paths (the original also refuses it on runtimes that cannot enforce it)"},

	{Path: "apiProxy.enabled", Why: whyAlwaysOn, Debug: true},
	{Path: "apiProxy.enableTokenSteering", Flag: "enable-token-steering", Conv: convBool},
	{Path: "apiProxy.anthropicAutoCache", Flag: "anthropic-auto-cache", Conv: convBool},
	{Path: "apiProxy.anthropicCacheTailTtl", Flag: "anthropic-cache-tail-ttl", Conv: convString},
	{Path: "apiProxy.maxEffectiveTokens", Flag: "max-effective-tokens", Conv: convNumber},
	{Path: "apiProxy.maxAiCredits", Flag: "max-ai-credits", Conv: convNumber},
	{Path: "apiProxy.defaultAiCreditsPricing", Flag: "default-ai-credits-pricing", Conv: convJSON},
	{Path: "apiProxy.providers", Flag: "api-proxy-providers", Conv: convJSON},
	{Path: "apiProxy.modelMultipliers", Flag: "effective-token-model-multipliers", Conv: convJSON},
	{Path: "apiProxy.defaultModelMultiplier", Flag: "effective-token-default-model-multiplier", Conv: convNumber},
	{Path: "apiProxy.maxModelMultiplierCap", Flag: "max-model-multiplier-cap", Conv: convNumber},
	{Path: "apiProxy.maxTurns", Flag: "max-turns", Conv: convNumber},
	{Path: "apiProxy.maxRuns", Flag: "max-runs", Conv: convNumber},
	{Path: "apiProxy.maxPermissionDenied", Flag: "max-permission-denied", Conv: convNumber},
	{Path: "apiProxy.maxCacheMisses", Flag: "max-cache-misses", Conv: convNumber},
	{Path: "apiProxy.requestedModel", Flag: "requested-model", Conv: convString},
	{Path: "apiProxy.modelFallback", Flag: "model-fallback", Conv: convJSON},
	{Path: "apiProxy.modelRouter.providerType", Flag: "copilot-provider-type", Conv: convString},
	{Path: "apiProxy.modelRouter.baseUrl", Flag: "copilot-provider-base-url", Conv: convString},
	{Path: "apiProxy.targets.openai.host", Flag: "openai-api-target", Conv: convString},
	{Path: "apiProxy.targets.openai.baseUrlEnv", Flag: "openai-base-url-env", Conv: convString},
	{Path: "apiProxy.targets.openai.basePath", Flag: "openai-api-base-path", Conv: convString},
	{Path: "apiProxy.targets.openai.authHeader", Flag: "openai-api-auth-header", Conv: convString},
	{Path: "apiProxy.targets.anthropic.host", Flag: "anthropic-api-target", Conv: convString},
	{Path: "apiProxy.targets.anthropic.basePath", Flag: "anthropic-api-base-path", Conv: convString},
	{Path: "apiProxy.targets.anthropic.authHeader", Flag: "anthropic-api-auth-header", Conv: convString},
	{Path: "apiProxy.targets.copilot.host", Flag: "copilot-api-target", Conv: convString},
	{Path: "apiProxy.targets.copilot.extraHeaders", Flag: "copilot-byok-extra-headers", Conv: convJSON},
	{Path: "apiProxy.targets.copilot.extraBodyFields", Flag: "copilot-byok-extra-body-fields", Conv: convJSON},
	{Path: "apiProxy.targets.copilot.sessionId", Flag: "copilot-byok-session-id", Conv: convString},
	// antigravity is the Gemini runtime under another name and wins per field.
	{Path: "apiProxy.targets.gemini.host", Flag: "gemini-api-target", Conv: convString, SkipIf: "apiProxy.targets.antigravity.host"},
	{Path: "apiProxy.targets.gemini.basePath", Flag: "gemini-api-base-path", Conv: convString, SkipIf: "apiProxy.targets.antigravity.basePath"},
	{Path: "apiProxy.targets.gemini.authHeader", Why: "the original has no auth-header override for Gemini (x-goog-api-key is always used)"},
	{Path: "apiProxy.targets.antigravity.host", Flag: "gemini-api-target", Conv: convString},
	{Path: "apiProxy.targets.antigravity.basePath", Flag: "gemini-api-base-path", Conv: convString},
	{Path: "apiProxy.targets.antigravity.authHeader", Why: "the original has no auth-header override for Gemini (x-goog-api-key is always used)"},
	{Path: "apiProxy.targets.vertex.host", Flag: "vertex-api-target", Conv: convString},
	{Path: "apiProxy.targets.vertex.basePath", Flag: "vertex-api-base-path", Conv: convString},
	{Path: "apiProxy.targets.vertex.authHeader", Why: "the original has no auth-header override for Vertex"},
	{Path: "apiProxy.models", Flag: "model-aliases", Conv: convJSON},
	{Path: "apiProxy.allowedModels", Flag: "allowed-models", Conv: convJSON},
	{Path: "apiProxy.disallowedModels", Flag: "disallowed-models", Conv: convJSON},
	{Path: "apiProxy.hostedWeb", Flag: "hosted-web", Conv: convJSON}, // schema extension (extensions.go)
	{Path: "apiProxy.logging.debugTokens", Flag: "debug-tokens", Conv: convBool},
	{Path: "apiProxy.logging.tokenLogDir", Flag: "token-log-dir", Conv: convString},
	{Path: "apiProxy.diagnostics.captureBlockedRequests", Flag: "capture-blocked-requests", Conv: convScalar},
	{Path: "apiProxy.diagnostics.maxCapturedBytes", Flag: "max-captured-bytes", Conv: convNumber},
	{Path: "apiProxy.auth.type", Flag: "auth-type", Conv: convString},
	{Path: "apiProxy.auth.provider", Flag: "auth-provider", Conv: convString},
	{Path: "apiProxy.auth.oidcAudience", Flag: "auth-oidc-audience", Conv: convString},
	{Path: "apiProxy.auth.azureTenantId", Flag: "auth-azure-tenant-id", Conv: convString},
	{Path: "apiProxy.auth.azureClientId", Flag: "auth-azure-client-id", Conv: convString},
	{Path: "apiProxy.auth.azureScope", Flag: "auth-azure-scope", Conv: convString},
	{Path: "apiProxy.auth.azureCloud", Flag: "auth-azure-cloud", Conv: convString},
	{Path: "apiProxy.auth.awsRoleArn", Flag: "auth-aws-role-arn", Conv: convString},
	{Path: "apiProxy.auth.awsRegion", Flag: "auth-aws-region", Conv: convString},
	{Path: "apiProxy.auth.awsRoleSessionName", Flag: "auth-aws-role-session-name", Conv: convString},
	{Path: "apiProxy.auth.gcpWorkloadIdentityProvider", Flag: "auth-gcp-workload-identity-provider", Conv: convString},
	{Path: "apiProxy.auth.gcpServiceAccount", Flag: "auth-gcp-service-account", Conv: convString},
	{Path: "apiProxy.auth.gcpScope", Flag: "auth-gcp-scope", Conv: convString},
	{Path: "apiProxy.auth.anthropicFederationRuleId", Flag: "auth-anthropic-federation-rule-id", Conv: convString},
	{Path: "apiProxy.auth.anthropicOrganizationId", Flag: "auth-anthropic-organization-id", Conv: convString},
	{Path: "apiProxy.auth.anthropicServiceAccountId", Flag: "auth-anthropic-service-account-id", Conv: convString},
	{Path: "apiProxy.auth.anthropicWorkspaceId", Flag: "auth-anthropic-workspace-id", Conv: convString},
	{Path: "apiProxy.auth.anthropicTokenUrl", Flag: "anthropic-token-url", Conv: convString},

	{Path: "security.legacySecurity", Flag: "legacy-security", Conv: convBool},
	{Path: "security.securityMode", Flag: "legacy-security", Conv: convString, SkipIf: "security.legacySecurity"}, // compat -> --legacy-security (see flagFor)
	{Path: "security.sslBump", Flag: "ssl-bump", Conv: convBool},
	{Path: "security.allowUrls", Flag: "allow-urls", Conv: convCSV},                 // awf extension (extensions.go)
	{Path: "security.injectCredentials", Flag: "inject-credential", Conv: convEach}, // awf extension (extensions.go)
	{Path: "security.enableDlp", Flag: "enable-dlp", Conv: convBool},
	{Path: "security.enableHostAccess", Flag: "enable-host-access", Conv: convBool},
	{Path: "security.allowHostPorts", Flag: "allow-host-ports", Conv: convPorts},
	{Path: "security.allowHostServicePorts", Flag: "allow-host-service-ports", Conv: convPorts},
	{Path: "security.difcProxy.host", Flag: "difc-proxy-host", Conv: convString},
	{Path: "security.difcProxy.caCert", Flag: "difc-proxy-ca-cert", Conv: convString},

	{Path: "container.memoryLimit", Flag: "memory-limit", Conv: convString},
	{Path: "container.pidsLimit", Flag: "pids-limit", Conv: convNumber},
	{Path: "container.agentTimeout", Flag: "agent-timeout", Conv: convNumber},
	{Path: "container.enableDind", Flag: "enable-dind", Conv: convBool},
	{Path: "container.workDir", Flag: "work-dir", Conv: convString},
	{Path: "container.containerWorkDir", Flag: "container-workdir", Conv: convString},
	{Path: "container.images", Why: whyDocker},
	{Path: "container.imageRegistry", Flag: "image-registry", Conv: convString},
	{Path: "container.imageTag", Flag: "image-tag", Conv: convString},
	{Path: "container.skipPull", Flag: "skip-pull", Conv: convBool},
	{Path: "container.buildLocal", Flag: "build-local", Conv: convBool},
	{Path: "container.agentImage", Flag: "agent-image", Conv: convString},
	{Path: "container.tty", Flag: "tty", Conv: convBool},
	{Path: "container.dockerHost", Flag: "docker-host", Conv: convString},
	{Path: "container.dockerHostPathPrefix", Flag: "docker-host-path-prefix", Conv: convString},
	{Path: "container.runnerToolCachePath", Why: "the native sandbox shows the runner tool cache from RUNNER_TOOL_CACHE (or ~/work/_tool) read-only; a separate path is not yet supported"},
	{Path: "container.mounts", Flag: "mount", Conv: convEach},
	{Path: "container.containerRuntime", Flag: "container-runtime", Conv: convString},

	{Path: "cloudHypervisor.previewEnabled", Flag: "cloud-hypervisor-preview", Conv: convBool},
	{Path: "cloudHypervisor.cloudHypervisorBinary", Flag: "cloud-hypervisor-binary", Conv: convString},
	{Path: "cloudHypervisor.kernelPath", Flag: "cloud-hypervisor-kernel", Conv: convString},
	{Path: "cloudHypervisor.rootfsPath", Flag: "cloud-hypervisor-rootfs", Conv: convString},
	{Path: "cloudHypervisor.supervisorPath", Flag: "cloud-hypervisor-supervisor", Conv: convString},
	{Path: "cloudHypervisor.vcpuCount", Flag: "cloud-hypervisor-vcpus", Conv: convNumber},
	{Path: "cloudHypervisor.memoryMib", Flag: "cloud-hypervisor-memory-mib", Conv: convNumber},
	{Path: "cloudHypervisor.apiTimeoutMs", Flag: "cloud-hypervisor-api-timeout-ms", Conv: convNumber},
	{Path: "cloudHypervisor.sha256.cloudHypervisor", Flag: "cloud-hypervisor-binary-sha256", Conv: convString},
	{Path: "cloudHypervisor.sha256.virtiofsd", Flag: "cloud-hypervisor-virtiofsd-sha256", Conv: convString},
	{Path: "cloudHypervisor.sha256.kernel", Flag: "cloud-hypervisor-kernel-sha256", Conv: convString},
	{Path: "cloudHypervisor.sha256.rootfs", Flag: "cloud-hypervisor-rootfs-sha256", Conv: convString},
	{Path: "cloudHypervisor.sha256.supervisor", Flag: "cloud-hypervisor-supervisor-sha256", Conv: convString},
	{Path: "cloudHypervisor.mountPolicy", Why: whyMicroVM}, // schema extension (extensions.go)

	{Path: "chroot.binariesSourcePath", Why: whyChroot},
	{Path: "chroot.identity", Why: whyChroot + " as the invoking user"},

	{Path: "dind.preStageDirs", Why: whyDinD},
	{Path: "dind.workDir", Why: whyDinD},
	{Path: "dind.stagingImage", Why: whyDinD},
	{Path: "dind.stageEngineBinary", Why: whyDinD},

	{Path: "environment.envFile", Flag: "env-file", Conv: convString},
	{Path: "environment.envAll", Flag: "env-all", Conv: convBool},
	{Path: "environment.excludeEnv", Flag: "exclude-env", Conv: convEach},

	{Path: "logging.logLevel", Flag: "log-level", Conv: convString},
	{Path: "logging.diagnosticLogs", Flag: "diagnostic-logs", Conv: convBool},
	{Path: "logging.auditDir", Flag: "audit-dir", Conv: convString},
	{Path: "logging.proxyLogsDir", Flag: "proxy-logs-dir", Conv: convString},
	{Path: "logging.sessionStateDir", Flag: "session-state-dir", Conv: convString},

	{Path: "rateLimiting.enabled", Flag: "no-rate-limit", Conv: convBool}, // only false maps (see flagFor)
	{Path: "rateLimiting.requestsPerMinute", Flag: "rate-limit-rpm", Conv: convNumber},
	{Path: "rateLimiting.requestsPerHour", Flag: "rate-limit-rph", Conv: convNumber},
	{Path: "rateLimiting.bytesPerMinute", Flag: "rate-limit-bytes-pm", Conv: convNumber},

	{Path: "platform.type", Flag: "platform-type", Conv: convString},

	{Path: "runner.topology", Why: whyRunner},
	{Path: "runner.sysrootImage", Why: whyRunner},

	{Path: "enclaves", Why: whyEnclaves},
}

// Rules returns the mapping table (a copy), for documentation and tests.
func Rules() []struct{ Path, Flag, Why string } {
	out := make([]struct{ Path, Flag, Why string }, len(rules))
	for i, r := range rules {
		out[i] = struct{ Path, Flag, Why string }{r.Path, r.Flag, r.Why}
		if r.Refuse {
			out[i].Why = "refused: " + r.Why
		}
	}
	return out
}

// Lookup returns the value at a dotted path.
func (d Document) Lookup(path string) (any, bool) {
	var cur any = map[string]any(d)
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// Map turns a valid document into flag assignments and notices. It fails
// only for a key the table refuses.
func Map(d Document) (Mapped, error) {
	var out Mapped
	for _, r := range rules {
		v, ok := d.Lookup(r.Path)
		if !ok {
			continue
		}
		if r.SkipIf != "" {
			if _, other := d.Lookup(r.SkipIf); other {
				continue
			}
		}
		if r.Flag == "" {
			if r.Refuse && !empty(v) {
				return Mapped{}, fmt.Errorf("config.%s is not supported by the native runtime: %s", r.Path, r.Why)
			}
			if r.Why != "" {
				out.Notices = append(out.Notices, Notice{Key: r.Path, Msg: fmt.Sprintf("config key %s has no effect: %s", r.Path, r.Why), Debug: r.Debug})
			}
			continue
		}
		flag, values, isBool := convert(r, v)
		if flag == "" || len(values) == 0 {
			continue
		}
		out.Assignments = append(out.Assignments, Assignment{Key: r.Path, Flag: flag, Values: values, Bool: isBool})
	}
	return out, nil
}

// empty reports whether v asks for nothing (false, "", empty list/object).
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// convert renders v for r's flag. The flags whose meaning depends on the
// value (isolation, rate limiting, security mode) pick their flag here, as
// the original's mapper does.
func convert(r rule, v any) (flag string, values []string, isBool bool) {
	flag = r.Flag
	switch r.Path {
	case "network.isolation":
		if b, _ := v.(bool); !b {
			return "no-network-isolation", []string{"true"}, true
		}
		return flag, []string{"true"}, true
	case "rateLimiting.enabled":
		if b, _ := v.(bool); !b {
			return flag, []string{"true"}, true
		}
		return "", nil, false // enabled: true is the default when a limit is set
	case "security.securityMode":
		if v == "compat" {
			return flag, []string{"true"}, true
		}
		return "", nil, false // strict is the default
	}
	switch r.Conv {
	case convCSV:
		list := strings.Join(strs(v), ",")
		if list == "" {
			return "", nil, false // an empty array keeps the default, as the original's joinComma
		}
		return flag, []string{list}, false
	case convEach:
		return flag, strs(v), false
	case convString, convNumber, convScalar:
		return flag, []string{scalar(v)}, false
	case convBool:
		b, _ := v.(bool)
		return flag, []string{fmt.Sprint(b)}, true
	case convJSON:
		b, _ := json.Marshal(v)
		return flag, []string{string(b)}, false
	case convPorts:
		if s, ok := v.(string); ok {
			return flag, []string{s}, false
		}
		return flag, []string{strings.Join(strs(v), ",")}, false
	}
	return "", nil, false
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, scalar(e))
	}
	return out
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}
