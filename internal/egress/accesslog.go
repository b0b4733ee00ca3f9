package egress

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Squid result codes the log consumers (awf logs) understand.
const (
	codeTunnel = "TCP_TUNNEL"
	codeMiss   = "TCP_MISS"
	codeDenied = "TCP_DENIED"
	codeError  = "TCP_MISS" // upstream failures: Squid logs TCP_MISS with a 5xx
	hierDirect = "HIER_DIRECT"
	hierNone   = "HIER_NONE"
)

// Entry is one request or tunnel, as logged.
type Entry struct {
	Start      time.Time
	Listener   string // explicit, http, tls
	Client     netip.AddrPort
	HostHeader string
	Dest       netip.AddrPort // zero when no upstream was contacted
	Version    string         // "1.1"
	Method     string
	Status     int
	Code       string // TCP_TUNNEL, TCP_MISS, TCP_DENIED
	Hier       string // HIER_DIRECT, HIER_NONE
	URL        string
	UserAgent  string
	BytesIn    int64 // client -> upstream
	BytesOut   int64 // upstream -> client
	Duration   time.Duration
	Rule       string
	Reason     string
}

// DNSEntry is one DNS question, logged to dns.jsonl.
type DNSEntry struct {
	Start   time.Time
	Client  netip.AddrPort
	Name    string
	Type    string
	Rcode   string
	Answers int
	Rule    string
	Reason  string
}

func tsString(t time.Time) string {
	ms := t.UnixMilli()
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// logSafe keeps one field on one line and free of the quote that ends it.
func logSafe(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' }) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '"' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// noSpace also escapes spaces, for fields that are not quoted.
func noSpace(s string) string {
	return strings.ReplaceAll(logSafe(orDash(s)), " ", "%20")
}

func destString(d netip.AddrPort) string {
	if !d.IsValid() {
		return "-:-"
	}
	return d.String()
}

// FormatAccess renders e in Squid's firewall_detailed format:
// ts client:port host dest:port version method status code:hier url "UA".
func FormatAccess(e *Entry) string {
	client := "-:-"
	if e.Client.IsValid() {
		client = e.Client.String()
	}
	return fmt.Sprintf("%s %s %s %s %s %s %d %s:%s %s \"%s\"\n",
		tsString(e.Start), client, noSpace(e.HostHeader), destString(e.Dest),
		orDash(e.Version), noSpace(e.Method), e.Status, e.Code, e.Hier,
		noSpace(e.URL), logSafe(orDash(e.UserAgent)))
}

type auditRecord struct {
	TS         json.Number `json:"ts"`
	Client     string      `json:"client"`
	Host       string      `json:"host"`
	Dest       string      `json:"dest"`
	Method     string      `json:"method"`
	Status     int         `json:"status"`
	Decision   string      `json:"decision"`
	URL        string      `json:"url"`
	BytesIn    int64       `json:"bytes_in"`
	BytesOut   int64       `json:"bytes_out"`
	DurationMS int64       `json:"duration_ms"`
	Rule       string      `json:"rule,omitempty"`
	Reason     string      `json:"reason,omitempty"`
	Listener   string      `json:"listener,omitempty"`
}

// FormatAudit renders e as one audit.jsonl line.
func FormatAudit(e *Entry) string {
	client := "-"
	if e.Client.IsValid() {
		client = e.Client.Addr().Unmap().String()
	}
	b, _ := json.Marshal(auditRecord{
		TS: json.Number(tsString(e.Start)), Client: client, Host: orDash(e.HostHeader),
		Dest: destString(e.Dest), Method: orDash(e.Method), Status: e.Status, Decision: e.Code,
		URL: orDash(e.URL), BytesIn: e.BytesIn, BytesOut: e.BytesOut,
		DurationMS: e.Duration.Milliseconds(), Rule: e.Rule, Reason: e.Reason, Listener: e.Listener,
	})
	return string(b) + "\n"
}

// FormatDNS renders d as one dns.jsonl line.
func FormatDNS(d *DNSEntry) string {
	client := "-"
	if d.Client.IsValid() {
		client = d.Client.Addr().Unmap().String()
	}
	b, _ := json.Marshal(struct {
		TS      json.Number `json:"ts"`
		Client  string      `json:"client"`
		Name    string      `json:"name"`
		Type    string      `json:"type"`
		Rcode   string      `json:"rcode"`
		Answers int         `json:"answers"`
		Rule    string      `json:"rule,omitempty"`
		Reason  string      `json:"reason,omitempty"`
	}{json.Number(tsString(d.Start)), client, d.Name, d.Type, d.Rcode, d.Answers, d.Rule, d.Reason})
	return string(b) + "\n"
}

const flushEvery = 100 * time.Millisecond

// logWriter writes entries from a bounded queue on its own goroutine, so
// the data path never waits for the disk: when the queue is full the entry
// is dropped and counted.
type logWriter struct {
	ch      chan any
	kick    chan struct{} // capacity 1: the queue is filling up
	stop    chan struct{}
	done    chan struct{}
	mu      sync.RWMutex // guards closed against sends on a closed channel
	closed  bool
	Dropped atomic.Int64
}

func openLogs(dir string, queue int) (*logWriter, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files [3]*os.File
	for i, name := range []string{"access.log", "audit.jsonl", "dns.jsonl"} {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			for _, g := range files[:i] {
				g.Close()
			}
			return nil, err
		}
		files[i] = f
	}
	l := &logWriter{ch: make(chan any, queue), kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go l.run(files)
	return l, nil
}

func (l *logWriter) run(files [3]*os.File) {
	defer close(l.done)
	var w [3]*bufio.Writer
	for i, f := range files {
		w[i] = bufio.NewWriterSize(f, 64<<10)
	}
	write := func(it any) {
		switch e := it.(type) {
		case *Entry:
			w[0].WriteString(FormatAccess(e))
			w[1].WriteString(FormatAudit(e))
		case *DNSEntry:
			w[2].WriteString(FormatDNS(e))
		}
	}
	// The writer wakes on a timer (or when the queue is half full), not per
	// entry: a send to a channel nobody waits on costs the data path no
	// thread wake-up, and the files get one write per batch.
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-l.kick:
		case <-l.stop:
			for {
				select {
				case it := <-l.ch:
					write(it)
					continue
				default:
				}
				break
			}
			for i, f := range files {
				w[i].Flush()
				f.Close()
			}
			return
		}
		for n := len(l.ch); n > 0; n-- {
			write(<-l.ch)
		}
		for _, b := range w {
			b.Flush()
		}
	}
}

func (l *logWriter) add(it any) {
	if l == nil {
		return
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.Dropped.Add(1)
		return
	}
	select {
	case l.ch <- it:
		if len(l.ch) >= cap(l.ch)/2 {
			select {
			case l.kick <- struct{}{}:
			default:
			}
		}
	default:
		l.Dropped.Add(1)
	}
}

// close flushes what is queued; entries added afterwards are dropped.
func (l *logWriter) close() {
	if l == nil {
		return
	}
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.stop)
	}
	l.mu.Unlock()
	<-l.done
}
