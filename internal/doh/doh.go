// Package doh is the egress proxy's upstream resolver for
// --dns-over-https: admitted names are looked up with RFC 8484 queries
// (POST application/dns-message) to the resolver URL instead of plain DNS,
// so the runner's network sees only HTTPS to the resolver. The original
// ran a cloudflared sidecar for this; here it is a Resolver the egress
// proxy calls.
package doh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// MaxResponse bounds a DoH answer (a DNS message is at most 64 KiB).
const MaxResponse = 65535

// Resolver implements egress.Resolver over DNS-over-HTTPS.
type Resolver struct {
	url    string
	client *http.Client
}

// New returns a resolver for the https:// URL. client nil: a client with
// a 10 s timeout that finds the resolver's own host through servers (plain
// DNS, the --dns-servers) or, when empty, the host's resolver, and never
// through a proxy.
func New(rawURL string, servers []string, client *http.Client) (*Resolver, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("--dns-over-https resolver URL must start with https://")
	}
	if client == nil {
		d := &net.Dialer{Timeout: 10 * time.Second, Resolver: bootstrap(servers)}
		client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         d.DialContext,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		}}
	}
	return &Resolver{url: rawURL, client: client}, nil
}

func bootstrap(servers []string) *net.Resolver {
	if len(servers) == 0 {
		return net.DefaultResolver
	}
	var next atomic.Uint32
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(servers[int(next.Add(1))%len(servers)], "53"))
	}}
}

// LookupNetIP answers "ip" (A and AAAA), "ip4" or "ip6" for host.
func (r *Resolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	var types []uint16
	switch network {
	case "ip":
		types = []uint16{dns.TypeA, dns.TypeAAAA}
	case "ip4":
		types = []uint16{dns.TypeA}
	case "ip6":
		types = []uint16{dns.TypeAAAA}
	default:
		return nil, fmt.Errorf("doh: unsupported network %q", network)
	}
	type result struct {
		addrs    []netip.Addr
		notFound bool
		err      error
	}
	ch := make(chan result, len(types))
	for _, t := range types {
		go func(t uint16) {
			a, nf, err := r.query(ctx, host, t)
			ch <- result{a, nf, err}
		}(t)
	}
	var out []netip.Addr
	var firstErr error
	notFound := 0
	for range types {
		res := <-ch
		switch {
		case res.err != nil:
			if firstErr == nil {
				firstErr = res.err
			}
		case res.notFound:
			notFound++
		default:
			out = append(out, res.addrs...)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	if notFound == len(types) || (firstErr == nil && len(out) == 0) {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return nil, &net.DNSError{Err: firstErr.Error(), Name: host, Server: r.url}
}

// query sends one question and returns its A/AAAA answers (the CNAME
// chain's target records included), or notFound for NXDOMAIN.
func (r *Resolver) query(ctx context.Context, host string, qtype uint16) ([]netip.Addr, bool, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(host), qtype)
	m.Id = 0 // RFC 8484 §4.1: cache-friendly
	m.RecursionDesired = true
	wire, err := m.Pack()
	if err != nil {
		return nil, false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(wire))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", "application/dns-message")
	req.Header.Set("Accept", "application/dns-message")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false, fmt.Errorf("doh: %s answered %s", r.url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/dns-message") {
		return nil, false, fmt.Errorf("doh: %s answered %q, not application/dns-message", r.url, ct)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return nil, false, err
	}
	if len(body) > MaxResponse {
		return nil, false, errors.New("doh: answer larger than a DNS message")
	}
	var a dns.Msg
	if err := a.Unpack(body); err != nil {
		return nil, false, fmt.Errorf("doh: bad answer: %w", err)
	}
	if len(a.Question) != 1 || !strings.EqualFold(a.Question[0].Name, m.Question[0].Name) || a.Question[0].Qtype != qtype {
		return nil, false, errors.New("doh: answer is for another question")
	}
	switch a.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, true, nil
	default:
		return nil, false, fmt.Errorf("doh: rcode %s", dns.RcodeToString[a.Rcode])
	}
	var out []netip.Addr
	for _, rr := range a.Answer {
		switch v := rr.(type) {
		case *dns.A:
			if qtype == dns.TypeA {
				if ip, ok := netip.AddrFromSlice(v.A.To4()); ok {
					out = append(out, ip)
				}
			}
		case *dns.AAAA:
			if qtype == dns.TypeAAAA {
				if ip, ok := netip.AddrFromSlice(v.AAAA.To16()); ok {
					out = append(out, ip)
				}
			}
		}
	}
	return out, false, nil
}
