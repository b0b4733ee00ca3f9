package usage

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
)

// MediaEventStream is the AWS event-stream framing Bedrock's streaming APIs
// answer with (ConverseStream, InvokeModelWithResponseStream).
const MediaEventStream = "application/vnd.amazon.eventstream"

// eventStreamSink splits AWS event-stream messages (prelude: total and
// headers length, prelude CRC; headers; payload; message CRC) and hands each
// JSON payload to the accumulator: ConverseStream's metadata event carries
// "usage" (camelCase counts); InvokeModelWithResponseStream wraps the
// model's own chunk (Anthropic's message_start/message_delta) base64 in
// "bytes". A frame with a bad CRC or length stops tracking.
type eventStreamSink struct {
	acc      *accum
	maxEvent int
	buf      []byte
	dead     bool
}

func (s *eventStreamSink) write(p []byte) bool {
	if s.dead {
		return false
	}
	s.buf = append(s.buf, p...)
	for len(s.buf) >= 12 {
		total := int(binary.BigEndian.Uint32(s.buf[0:4]))
		hlen := int(binary.BigEndian.Uint32(s.buf[4:8]))
		if total < 16 || hlen > total-16 || total > s.maxEvent || crc32.ChecksumIEEE(s.buf[0:8]) != binary.BigEndian.Uint32(s.buf[8:12]) {
			s.dead, s.buf = true, nil
			return false
		}
		if len(s.buf) < total {
			return true
		}
		msg := s.buf[:total]
		if crc32.ChecksumIEEE(msg[:total-4]) != binary.BigEndian.Uint32(msg[total-4:]) {
			s.dead, s.buf = true, nil
			return false
		}
		s.payload(msg[12+hlen : total-4])
		s.buf = s.buf[total:]
	}
	return true
}

func (s *eventStreamSink) payload(p []byte) {
	var wrapped struct {
		Bytes string `json:"bytes"`
	}
	if json.Unmarshal(p, &wrapped) == nil && wrapped.Bytes != "" {
		if inner, err := base64.StdEncoding.DecodeString(wrapped.Bytes); err == nil {
			s.acc.event(inner)
		}
		return
	}
	s.acc.event(p)
}

func (s *eventStreamSink) finish(*accum) { s.buf = nil }

// EncodeEventStreamMessage frames payload as one event-stream message with
// string headers (for fakes and tests).
func EncodeEventStreamMessage(headers map[string]string, payload []byte) []byte {
	var h []byte
	for k, v := range headers {
		h = append(h, byte(len(k)))
		h = append(h, k...)
		h = append(h, 7) // string
		h = binary.BigEndian.AppendUint16(h, uint16(len(v)))
		h = append(h, v...)
	}
	total := 12 + len(h) + len(payload) + 4
	m := binary.BigEndian.AppendUint32(nil, uint32(total))
	m = binary.BigEndian.AppendUint32(m, uint32(len(h)))
	m = binary.BigEndian.AppendUint32(m, crc32.ChecksumIEEE(m))
	m = append(m, h...)
	m = append(m, payload...)
	return binary.BigEndian.AppendUint32(m, crc32.ChecksumIEEE(m))
}
