// Package sigv4 is AWS Signature Version 4 for request headers, as AWS
// documents it ("Create a signed AWS API request") and checked against
// AWS's published signature test suite (testdata/). The api-proxy signs
// Bedrock runtime requests with temporary credentials from STS.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Credentials are AWS access keys; SessionToken is set for temporary ones.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Request is what is signed: the method, the path and raw query as sent,
// the headers to sign (names any case; host must be among them) and the
// payload.
type Request struct {
	Method   string
	Path     string // as on the wire (may be percent-encoded)
	RawQuery string
	Headers  map[string][]string
	Payload  []byte
	// PayloadHash overrides the SHA-256 of Payload (hex), e.g.
	// "UNSIGNED-PAYLOAD"; "" computes it.
	PayloadHash string
}

// Signature is the result: the Authorization value and its parts.
type Signature struct {
	Authorization    string
	CanonicalRequest string
	StringToSign     string
	SignedHeaders    string
	Signature        string
	AmzDate          string
	PayloadHash      string
}

const algorithm = "AWS4-HMAC-SHA256"

// AmzDate formats t as X-Amz-Date wants (UTC, basic ISO 8601).
func AmzDate(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// HashHex is the lower-case hex SHA-256 of b.
func HashHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Sign computes the signature of r for region and service at time t.
// The caller must already have put X-Amz-Date (and, for temporary
// credentials, X-Amz-Security-Token) into r.Headers if it wants them
// signed; Sign does not add headers.
func Sign(r Request, c Credentials, region, service string, t time.Time) (Signature, error) {
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return Signature{}, errors.New("sigv4: credentials are incomplete")
	}
	if region == "" || service == "" || r.Method == "" {
		return Signature{}, errors.New("sigv4: signing context is incomplete")
	}
	amzDate := AmzDate(t)
	day := amzDate[:8]
	ph := r.PayloadHash
	if ph == "" {
		ph = HashHex(r.Payload)
	}
	names, canonHeaders := canonicalHeaders(r.Headers)
	signed := strings.Join(names, ";")
	path, err := CanonicalPath(r.Path)
	if err != nil {
		return Signature{}, err
	}
	cr := strings.Join([]string{
		strings.ToUpper(r.Method), path, CanonicalQuery(r.RawQuery), canonHeaders, signed, ph,
	}, "\n")
	scope := day + "/" + region + "/" + service + "/aws4_request"
	sts := strings.Join([]string{algorithm, amzDate, scope, HashHex([]byte(cr))}, "\n")
	k := hmacSHA(hmacSHA(hmacSHA(hmacSHA([]byte("AWS4"+c.SecretAccessKey), day), region), service), "aws4_request")
	sig := hex.EncodeToString(hmacSHA(k, sts))
	return Signature{
		Authorization:    algorithm + " Credential=" + c.AccessKeyID + "/" + scope + ", SignedHeaders=" + signed + ", Signature=" + sig,
		CanonicalRequest: cr, StringToSign: sts, SignedHeaders: signed, Signature: sig, AmzDate: amzDate, PayloadHash: ph,
	}, nil
}

func hmacSHA(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalHeaders: lower-case names, sorted; values trimmed with inner
// runs of spaces collapsed, several values joined by commas; each line
// ends with a newline.
func canonicalHeaders(h map[string][]string) ([]string, string) {
	m := map[string][]string{}
	for k, vs := range h {
		lk := strings.ToLower(strings.TrimSpace(k))
		for _, v := range vs {
			m[lk] = append(m[lk], strings.Join(strings.Fields(v), " "))
		}
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + ":" + strings.Join(m[n], ",") + "\n")
	}
	return names, b.String()
}

// CanonicalPath URI-encodes each segment of the decoded path once (the
// rule for every service except S3), after removing "." and ".."
// segments and collapsing repeated slashes, as the test suite's
// normalize-path cases require.
func CanonicalPath(p string) (string, error) {
	if p == "" {
		return "/", nil
	}
	dec, err := url.PathUnescape(p)
	if err != nil {
		return "", errors.New("sigv4: malformed request path")
	}
	trailing := strings.HasSuffix(dec, "/")
	var out []string
	for _, seg := range strings.Split(dec, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, Escape(seg))
		}
	}
	s := "/" + strings.Join(out, "/")
	if trailing && s != "/" {
		s += "/"
	}
	return s, nil
}

// CanonicalQuery sorts the parameters by encoded name, then value, each
// URI-encoded with AWS's rules.
func CanonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var ps []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err1 := url.QueryUnescape(strings.ReplaceAll(k, "+", "%2B"))
		dv, err2 := url.QueryUnescape(strings.ReplaceAll(v, "+", "%2B"))
		if err1 != nil {
			dk = k
		}
		if err2 != nil {
			dv = v
		}
		ps = append(ps, kv{Escape(dk), Escape(dv)})
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].k != ps[j].k {
			return ps[i].k < ps[j].k
		}
		return ps[i].v < ps[j].v
	})
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.k + "=" + p.v
	}
	return strings.Join(out, "&")
}

// Escape is AWS's URI encoding: everything but A-Z a-z 0-9 - . _ ~ as
// %XX with upper-case hex.
func Escape(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}
