package usage

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"strings"
	"testing"
)

// wsFrame builds one RFC 6455 frame; mask != nil masks the payload.
func wsFrame(fin, rsv1 bool, op byte, payload []byte, mask []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	out := []byte{b0}
	var mbit byte
	if mask != nil {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, mbit|byte(n))
	case n <= 0xffff:
		out = append(out, mbit|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, mbit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if mask == nil {
		return append(out, payload...)
	}
	out = append(out, mask...)
	for i, c := range payload {
		out = append(out, c^mask[i&3])
	}
	return out
}

// deflater compresses messages as permessage-deflate does, with or
// without context takeover.
type deflater struct {
	buf      bytes.Buffer
	w        *flate.Writer
	takeover bool
}

func newDeflater(takeover bool) *deflater {
	d := &deflater{takeover: takeover}
	d.w, _ = flate.NewWriter(&d.buf, flate.BestSpeed)
	return d
}

func (d *deflater) compress(msg []byte) []byte {
	d.buf.Reset()
	if !d.takeover {
		d.w.Reset(&d.buf)
	}
	d.w.Write(msg)
	d.w.Flush()
	out := bytes.Clone(d.buf.Bytes())
	return bytes.TrimSuffix(out, deflateTail)
}

type wsOpts struct {
	mask      bool
	fragment  int // split text messages into frames of this size
	deflate   bool
	takeover  bool
	http101   bool
	interject bool // ping, pong and binary frames between and inside messages
}

// wsStream renders messages as the server-to-client byte stream.
func wsStream(msgs []string, o wsOpts) []byte {
	var out []byte
	if o.http101 {
		out = append(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"...)
	}
	var mask []byte
	if o.mask {
		mask = []byte{0x37, 0xfa, 0x21, 0x3d}
	}
	d := newDeflater(o.takeover)
	for i, m := range msgs {
		payload := []byte(m)
		if o.deflate {
			payload = d.compress(payload)
		}
		if o.interject {
			out = append(out, wsFrame(true, false, 0x9, []byte("ping"), mask)...)
			bin := []byte(`{"usage":{"input_tokens":123456}}`)
			if o.deflate {
				out = append(out, wsFrame(true, true, 0x2, d.compress(bin), mask)...)
			} else {
				out = append(out, wsFrame(true, false, 0x2, bin, mask)...)
			}
		}
		size := len(payload)
		if o.fragment > 0 {
			size = o.fragment
		}
		for off, first := 0, true; first || off < len(payload); first = false {
			end := min(off+size, len(payload))
			op := byte(0x0)
			if first {
				op = 0x1
			}
			out = append(out, wsFrame(end == len(payload), first && o.deflate, op, payload[off:end], mask)...)
			if o.interject && first && i%2 == 0 {
				out = append(out, wsFrame(true, false, 0xA, nil, mask)...)
			}
			off = end
		}
	}
	return append(out, wsFrame(true, false, 0x8, []byte{0x03, 0xe8}, mask)...)
}

func TestWSTracker(t *testing.T) {
	c := counts{in: 21873, out: 1402, cacheRead: 19968, thoughts: 640}
	msgs := responsesEvents("gpt-5-codex", c, textPieces(3, 60))
	want := Usage{Found: true, Model: "gpt-5-codex", InputTokens: c.in, OutputTokens: c.out, CacheReadTokens: c.cacheRead, ReasoningTokens: c.thoughts}
	opts := map[string]wsOpts{
		"plain":                  {},
		"masked":                 {mask: true},
		"http head":              {http101: true},
		"fragmented":             {fragment: 7, interject: true},
		"masked fragmented":      {mask: true, fragment: 100, interject: true},
		"deflate":                {deflate: true},
		"deflate takeover":       {deflate: true, takeover: true, interject: true},
		"deflate takeover frags": {deflate: true, takeover: true, fragment: 5, mask: true, http101: true},
	}
	for name, o := range opts {
		for _, ch := range chunkings {
			t.Run(name+"/"+ch.name, func(t *testing.T) {
				stream := wsStream(msgs, o)
				tr := NewWSTracker("openai")
				feedAll(t, tr, ch.split(stream))
				if got := tr.Finish(); got != want {
					t.Errorf("usage = %+v\nwant    %+v", got, want)
				}
				if tr.Bytes() != int64(len(stream)) {
					t.Errorf("Bytes = %d, want %d", tr.Bytes(), len(stream))
				}
			})
		}
	}
}

func TestWSTrackerEdges(t *testing.T) {
	usageMsg := func(in int) string {
		return `{"type":"response.completed","response":{"model":"m","usage":{"input_tokens":` + strings.Repeat("1", in) + `,"output_tokens":2}}}`
	}
	big := `{"type":"response.output_text.delta","delta":"` + strings.Repeat("z", 70000) + `"}`
	huge := `{"type":"response.completed","response":{"usage":{"input_tokens":999}},"pad":"` + strings.Repeat("q", maxWSMessage) + `"}`
	tests := []struct {
		name   string
		stream []byte
		want   Usage
	}{
		{"16-bit and 64-bit lengths", wsStream([]string{big, strings.Repeat(" ", 70000) + usageMsg(1)}, wsOpts{}),
			Usage{Found: true, Model: "m", InputTokens: 1, OutputTokens: 2}},
		{"over 1 MiB skipped, next parsed", wsStream([]string{huge, usageMsg(2)}, wsOpts{fragment: 1 << 16}),
			Usage{Found: true, Model: "m", InputTokens: 11, OutputTokens: 2}},
		{"compressed over 1 MiB skipped", wsStream([]string{huge, usageMsg(2)}, wsOpts{deflate: true}),
			Usage{Found: true, Model: "m", InputTokens: 11, OutputTokens: 2}},
		{"binary only", append(wsFrame(true, false, 0x2, []byte(usageMsg(1)), nil), wsFrame(true, false, 0x8, nil, nil)...), Usage{}},
		{"after close ignored", append(wsFrame(true, false, 0x8, nil, nil), wsFrame(true, false, 0x1, []byte(usageMsg(1)), nil)...), Usage{}},
		{"unfinished message ignored", wsFrame(false, false, 0x1, []byte(usageMsg(1)), nil), Usage{}},
		{"orphan continuation ignored", wsFrame(true, false, 0x0, []byte(usageMsg(1)), nil), Usage{}},
		{"reserved opcode skipped", append(wsFrame(true, false, 0x3, []byte(usageMsg(3)), nil), wsFrame(true, false, 0x1, []byte(usageMsg(1)), nil)...),
			Usage{Found: true, Model: "m", InputTokens: 1, OutputTokens: 2}},
		{"corrupt deflate skipped", append(wsFrame(true, true, 0x1, []byte{0xff, 0xff, 0xff}, nil), wsFrame(true, false, 0x1, []byte(usageMsg(1)), nil)...),
			Usage{Found: true, Model: "m", InputTokens: 1, OutputTokens: 2}},
		{"malformed json skipped", wsStream([]string{`{"usage":{`, usageMsg(2), `}{"usage"`}, wsOpts{}),
			Usage{Found: true, Model: "m", InputTokens: 11, OutputTokens: 2}},
		{"empty frames", wsStream([]string{"", usageMsg(1), ""}, wsOpts{}),
			Usage{Found: true, Model: "m", InputTokens: 1, OutputTokens: 2}},
	}
	for _, tt := range tests {
		for _, ch := range chunkings[:2] {
			if ch.name == "bytewise" && len(tt.stream) > 200<<10 {
				continue
			}
			t.Run(tt.name+"/"+ch.name, func(t *testing.T) {
				tr := NewWSTracker("openai")
				feedAll(t, tr, ch.split(tt.stream))
				if got := tr.Finish(); got != tt.want {
					t.Errorf("usage = %+v, want %+v", got, tt.want)
				}
				if got := tr.Finish(); got != tt.want {
					t.Errorf("second Finish = %+v", got)
				}
			})
		}
	}
}
