package logs

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// genLog writes n lines (every 100,000th one garbage) of the given format
// and returns how many requests and denials it holds. It appends bytes
// rather than using fmt so that generating stays a small part of the test.
func genLog(t testing.TB, path string, n int, jsonl bool) (requests, denied, bad int) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var b []byte
	for i := 0; i < n; i++ {
		b = b[:0]
		if i%100000 == 99999 {
			b = append(b, "garbage "...)
			b = strconv.AppendInt(b, int64(i), 10)
			w.Write(append(b, '\n'))
			bad++
			continue
		}
		domain := strconv.AppendInt([]byte("host"), int64(i%1000), 10)
		domain = append(domain, ".example"...)
		domain = append(domain, byte('0'+i%7))
		domain = append(domain, ".test"...)
		ms := int64(1774290908000 + i)
		ts := strconv.AppendInt(nil, ms/1000, 10)
		ts = append(ts, '.', byte('0'+ms%1000/100), byte('0'+ms%100/10), byte('0'+ms%10))
		deny := i%5 == 0
		requests++
		if deny {
			denied++
		}
		if jsonl {
			b = append(b, `{"ts":`...)
			b = append(b, ts...)
			b = append(b, `,"client":"172.30.0.20","host":"`...)
			b = append(b, domain...)
			if deny {
				b = append(b, `:443","dest":"-:-","method":"CONNECT","status":403,"decision":"TCP_DENIED","url":"`...)
				b = append(b, domain...)
				b = append(b, `:443","bytes_in":0,"bytes_out":0,"duration_ms":0,"rule":"deny-default","reason":"domain not in allowlist"}`...)
			} else {
				b = append(b, `:443","dest":"198.51.100.7:443","method":"CONNECT","status":200,"decision":"TCP_TUNNEL","url":"`...)
				b = append(b, domain...)
				b = append(b, `:443","bytes_in":`...)
				b = strconv.AppendInt(b, int64(500+i%100), 10)
				b = append(b, `,"bytes_out":`...)
				b = strconv.AppendInt(b, int64(9000+i%1000), 10)
				b = append(b, `,"duration_ms":12,"rule":"allow-both-plain","reason":"allowed by example.test"}`...)
			}
		} else {
			b = append(b, ts...)
			b = append(b, " 172.30.0.20:"...)
			b = strconv.AppendInt(b, int64(30000+i%30000), 10)
			b = append(b, ' ')
			b = append(b, domain...)
			if deny {
				b = append(b, ":443 -:- 1.1 CONNECT 403 TCP_DENIED:HIER_NONE "...)
			} else {
				b = append(b, ":443 198.51.100.7:443 1.1 CONNECT 200 TCP_TUNNEL:HIER_DIRECT "...)
			}
			b = append(b, domain...)
			b = append(b, `:443 "curl/8.5.0"`...)
		}
		w.Write(append(b, '\n'))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return
}

// peakHeap samples the live heap while fn runs (runtime/metrics: no
// stop-the-world, unlike ReadMemStats).
func peakHeap(fn func()) (peak uint64, elapsed time.Duration) {
	runtime.GC()
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer wg.Done()
		for !stop.Load() {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			time.Sleep(5 * time.Millisecond)
		}
	}()
	start := time.Now()
	fn()
	elapsed = time.Since(start)
	stop.Store(true)
	wg.Wait()
	return
}

// TestMillionLines summarises a generated 1,000,000-line log of each format
// and reports time and peak heap. Skipped with -short.
func TestMillionLines(t *testing.T) {
	if testing.Short() {
		t.Skip("1M-line test skipped with -short")
	}
	const n = 1_000_000
	for _, c := range []struct {
		name  string
		jsonl bool
	}{{"access.log", false}, {"audit.jsonl", true}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, c.name)
			requests, denied, bad := genLog(t, path, n, c.jsonl)
			st, _ := os.Stat(path)
			m := NewManifest(sampleRules(), ManifestOptions{})
			var s *Stats
			var err error
			peak, elapsed := peakHeap(func() {
				agg := NewAggregator(&m)
				var reps []ParseReport
				reps, err = ScanSource(Source{Path: dir, File: path}, agg.Add)
				s = agg.Result()
				s.Reports = reps
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d lines, %.0f MiB, summarised in %v (%.0f lines/s), peak heap %.1f MiB",
				c.name, n, float64(st.Size())/(1<<20), elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), float64(peak)/(1<<20))
			if s.TotalRequests != int64(requests) || s.DeniedRequests != int64(denied) || s.MalformedLines() != bad || s.UniqueDomains != 7000 {
				t.Errorf("total=%d denied=%d malformed=%d domains=%d; want %d %d %d 7000", s.TotalRequests, s.DeniedRequests, s.MalformedLines(), s.UniqueDomains, requests, denied, bad)
			}
			var hits int64
			for _, r := range s.ByRule {
				hits += r.Hits
			}
			if hits != s.TotalRequests {
				t.Errorf("rule hits %d != requests %d", hits, s.TotalRequests)
			}
			if c.jsonl && (!s.HasBytes || s.BytesOut == 0) {
				t.Error("bytes not summed")
			}
			// Bounded memory: the heap holds per-domain counters, not lines.
			if peak > 64<<20 {
				t.Errorf("peak heap %.1f MiB, want < 64 MiB for a %.0f MiB log", float64(peak)/(1<<20), float64(st.Size())/(1<<20))
			}
			if elapsed > 30*time.Second {
				t.Errorf("took %v", elapsed)
			}
		})
	}
}

// BenchmarkParseAccessLine and BenchmarkParseAuditLine measure one line.
func BenchmarkParseAccessLine(b *testing.B) {
	line := `1774290908.910 172.30.0.20:55872 api.github.com:443 140.82.116.5:443 1.1 CONNECT 200 TCP_TUNNEL:HIER_DIRECT api.github.com:443 "curl/7.81.0"`
	for b.Loop() {
		if _, err := ParseAccessLine(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAuditLine(b *testing.B) {
	line := []byte(`{"ts":1774290908.910,"client":"172.30.0.20","host":"api.github.com:443","dest":"140.82.116.5:443","method":"CONNECT","status":200,"decision":"TCP_TUNNEL","url":"api.github.com:443","bytes_in":812,"bytes_out":20480,"duration_ms":310,"rule":"allow-both-plain","reason":"allowed by github.com"}`)
	for b.Loop() {
		if _, err := ParseAuditLine(line); err != nil {
			b.Fatal(err)
		}
	}
}
