// Package dlp finds credentials in outbound requests (--enable-dlp): the
// original's detector table, applied to URLs (plain HTTP always, HTTPS when
// inspected), host names, and, on inspected requests, headers and bodies.
// A hit refuses the request; what is logged names the detector, never the
// secret.
package dlp

import (
	"regexp"
	"strings"
)

// Detector is one credential shape. The regexes are the original's
// (Squid url_regex -i: case-insensitive, unanchored).
type Detector struct {
	ID   string // stable, for logs and tests
	Name string // the original's human-readable name
	re   *regexp.Regexp
}

func d(id, name, expr string) Detector {
	return Detector{ID: id, Name: name, re: regexp.MustCompile("(?i)" + expr)}
}

// Detectors is the table, in the original's order.
var Detectors = []Detector{
	d("github_pat_classic", "GitHub Personal Access Token (classic)", `ghp_[a-zA-Z0-9]{36}`),
	d("github_oauth", "GitHub OAuth Access Token", `gho_[a-zA-Z0-9]{36}`),
	d("github_app_installation", "GitHub App Installation Token", `ghs_[A-Za-z0-9._-]{36,}`),
	d("github_app_user", "GitHub App User-to-Server Token", `ghu_[a-zA-Z0-9]{36}`),
	d("github_pat_fine_grained", "GitHub Fine-Grained PAT", `github_pat_[a-zA-Z0-9]{22}_[a-zA-Z0-9]{59}`),
	d("openai_key", "OpenAI API Key", `sk-[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20}`),
	d("openai_project_key", "OpenAI Project API Key", `sk-proj-[a-zA-Z0-9_-]{40,}`),
	d("anthropic_key", "Anthropic API Key", `sk-ant-[a-zA-Z0-9_-]{40,}`),
	d("aws_access_key_id", "AWS Access Key ID", `AKIA[0-9A-Z]{16}`),
	d("google_api_key", "Google API Key", `AIza[a-zA-Z0-9_-]{35}`),
	d("slack_bot_token", "Slack Bot Token", `xoxb-[0-9]{10,13}-[0-9]{10,13}-[a-zA-Z0-9]{24}`),
	d("slack_user_token", "Slack User Token", `xoxp-[0-9]{10,13}-[0-9]{10,13}-[0-9]{10,13}-[a-f0-9]{32}`),
	d("bearer_in_url", "Bearer Token in URL", `[?&]bearer[_=][a-zA-Z0-9._-]{20,}`),
	d("authorization_in_url", "Authorization in URL", `[?&]authorization=[a-zA-Z0-9._-]{20,}`),
	d("private_key_marker", "Private Key Marker", `PRIVATE(%20|\+|%2B)KEY`),
}

// bodyDetectors also see bodies and headers, where a PEM block is spelled
// with a plain space (the URL form above needs an escape).
var pemPlain = d("private_key_marker", "Private Key Marker", `PRIVATE KEY-----`)

// maxMatch bounds how far back a match can start from where it ends, for
// the streaming scan's overlap: the longest fixed-length shape is the
// fine-grained PAT (93); unbounded ones ({36,}, {40,}, {20,}) are found
// from their first 50 characters.
const maxMatch = 128

// Scan reports the first detector that matches s, in table order.
func Scan(s string) (Detector, bool) {
	for _, det := range Detectors {
		if det.re.MatchString(s) {
			return det, true
		}
	}
	return Detector{}, false
}

// scanText is Scan plus the shapes that appear only outside URLs.
func scanText(s string) (Detector, bool) {
	if det, ok := Scan(s); ok {
		return det, true
	}
	if pemPlain.re.MatchString(s) {
		return pemPlain, true
	}
	return Detector{}, false
}

// ScanURL scans a URL (or request target) as sent and in every decoded
// reading an upstream may apply (percent-decoding up to three times, '+'
// as space), so `gh%70_...` is caught as Squid's regex on the raw URL
// would not.
func ScanURL(u string) (Detector, bool) {
	for i := 0; i < 4; i++ {
		if det, ok := Scan(u); ok {
			return det, true
		}
		dec := percentDecode(u)
		if dec == u {
			break
		}
		u = dec
	}
	return Detector{}, false
}

// percentDecode decodes every valid %XX escape and leaves invalid ones,
// so a malformed escape cannot hide the rest of the URL from the scan.
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
