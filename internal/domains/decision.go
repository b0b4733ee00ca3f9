package domains

// Proto is the protocol a request uses, as far as the allowlist is concerned:
// an `http://` entry admits only plain HTTP, an `https://` entry only TLS
// (CONNECT or transparent TLS), an entry without a prefix admits both.
type Proto int

const (
	HTTP Proto = iota + 1
	HTTPS
)

func (p Proto) String() string {
	switch p {
	case HTTP:
		return "http"
	case HTTPS:
		return "https"
	}
	return "unknown"
}

// Decision is the verdict on one host name. It carries its reason and the id
// of the rule that decided, so the access log, the audit trail and the
// message the agent sees all say the same thing.
type Decision struct {
	Allowed bool
	Host    string // the canonical name that was judged (lower case, no trailing dot, ASCII)
	Rule    string // rule id as in policy-manifest.json, e.g. "allow-both-plain", "deny-blocked-plain", "deny-default"
	Reason  string // short, user-facing: "domain not in allowlist", "blocked", "allowed by api.openai.com"
	Entry   string // the allowlist/blocklist entry that matched, "" for deny-default
}
