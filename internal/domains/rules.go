package domains

// Rule is one entry of the policy manifest's ordered rule list; the JSON
// field names are the original's policy-manifest.json names.
type Rule struct {
	ID          string   `json:"id"`
	Order       int      `json:"order"`
	Action      string   `json:"action"`   // "allow" or "deny"
	ACLName     string   `json:"aclName"`  // the original's Squid ACL expression
	Protocol    string   `json:"protocol"` // "http", "https" or "both"
	Domains     []string `json:"domains"`  // ".example.com" for plain entries, the original's regex for patterns
	Description string   `json:"description"`
}

// dangerousPorts are the original's ports that no configuration may open.
var dangerousPorts = []int{22, 23, 25, 110, 143, 445, 1433, 1521, 3306, 3389, 5432, 5984, 6379, 6984, 8086, 8088, 9200, 9300, 27017, 27018, 28017}

// DangerousPorts returns the ports the original refuses to open even when
// asked (ssh, mail, databases, ...), for the manifest and port validation.
func DangerousPorts() []int { return append([]int(nil), dangerousPorts...) }

type ruleMeta struct{ acl, protocol, desc string }

// Indexed by rank, as ruleIDs.
var ruleMetas = [rankNone]ruleMeta{
	{"blocked_domains", "both", "Deny requests to explicitly blocked domains"},
	{"blocked_domains_regex", "both", "Deny requests to explicitly blocked domain patterns"},
	{"allowed_http_only", "http", "Allow HTTP-only traffic to these domains (no HTTPS)"},
	{"allowed_http_only_regex", "http", "Allow HTTP-only traffic matching these patterns"},
	{"allowed_https_only", "https", "Allow HTTPS-only traffic to these domains (no HTTP)"},
	{"allowed_https_only_regex", "https", "Allow HTTPS-only traffic matching these patterns"},
	{"allowed_domains", "both", "Allow HTTP and HTTPS traffic to these domains"},
	{"allowed_domains_regex", "both", "Allow HTTP and HTTPS traffic matching these patterns"},
}

// Rules returns the policy's rules in evaluation order, as the original
// writes them to policy-manifest.json: the fixed port and raw-IP rules, the
// blocklist, the protocol-specific and then the two-protocol allow rules
// (each omitted when empty), and the default deny. The original inserts a
// deny-dlp rule after deny-raw-ipv6 when DLP is on; a caller that does so
// shifts the later orders by one.
func (p *Policy) Rules() []Rule {
	rules := []Rule{
		{ID: RuleDenyUnsafePorts, Action: "deny", ACLName: "!Safe_ports", Protocol: "both", Domains: []string{},
			Description: "Deny requests to ports not in Safe_ports ACL (only 80, 443, and user-specified ports allowed)"},
		{ID: RuleDenyConnectUnsafePorts, Action: "deny", ACLName: "CONNECT !Safe_ports", Protocol: "https", Domains: []string{},
			Description: "Deny CONNECT (HTTPS) to ports not in Safe_ports ACL"},
		{ID: RuleDenyRawIPv4, Action: "deny", ACLName: "dst_ipv4", Protocol: "both",
			Domains:     []string{`^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$`},
			Description: "Deny requests to raw IPv4 addresses (bypasses domain filtering)"},
		{ID: RuleDenyRawIPv6, Action: "deny", ACLName: "dst_ipv6", Protocol: "both",
			Domains:     []string{`^\[?[0-9a-fA-F:]+\]?$`},
			Description: "Deny requests to raw IPv6 addresses (bypasses domain filtering)"},
	}
	var lists [rankNone][]string
	if p != nil {
		for _, set := range [][]*compiled{p.block, p.allow} {
			for _, c := range set {
				d := "." + c.domain
				if c.wildcard {
					d = wildcardRegex(c.domain)
				}
				lists[c.rank] = append(lists[c.rank], d)
			}
		}
	}
	for rank, doms := range lists {
		if len(doms) == 0 {
			continue
		}
		m := ruleMetas[rank]
		action := "allow"
		if rank < 2 {
			action = "deny"
		}
		rules = append(rules, Rule{ID: ruleIDs[rank], Action: action, ACLName: m.acl, Protocol: m.protocol, Domains: doms, Description: m.desc})
	}
	rules = append(rules, Rule{ID: RuleDenyDefault, Action: "deny", ACLName: "all", Protocol: "both", Domains: []string{},
		Description: "Deny all traffic not matching any allow rule (default deny)"})
	for i := range rules {
		rules[i].Order = i + 1
	}
	return rules
}
