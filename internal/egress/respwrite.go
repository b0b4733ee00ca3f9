package egress

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
)

var (
	writerPool  = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}
	copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
)

// smallBody is the largest known-length body sent with the head in one
// write; bigger and unknown-length bodies are streamed.
const smallBody = 64 << 10

// writeResponse sends resp to the client. The head and a small body go out
// in one write (Response.Write would issue a syscall per header); other
// bodies are flushed after every read, so server-sent events and other
// streams reach the client as they arrive. It reports whether the client
// connection can carry another request.
func writeResponse(w io.Writer, resp *http.Response, req *http.Request, keep bool) (bool, error) {
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(w)
	defer func() { bw.Reset(nil); writerPool.Put(bw) }()

	noBody := req.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent ||
		resp.StatusCode == http.StatusNotModified || resp.StatusCode/100 == 1
	h := resp.Header
	chunked := false
	if !noBody {
		h.Del("Content-Length")
		switch {
		case resp.ContentLength >= 0:
			h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
		case req.ProtoAtLeast(1, 1):
			h.Set("Transfer-Encoding", "chunked")
			chunked = true
		default:
			keep = false // delimited by closing
		}
	}
	if !keep {
		h.Set("Connection", "close")
	}
	status := resp.Status
	if !strings.HasPrefix(status, strconv.Itoa(resp.StatusCode)) {
		status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	}
	bw.WriteString("HTTP/1.1 " + status + "\r\n")
	h.Write(bw)
	bw.WriteString("\r\n")
	if noBody {
		return keep, bw.Flush()
	}
	var dst io.Writer = bw
	var cw io.WriteCloser
	if chunked {
		cw = httputil.NewChunkedWriter(bw)
		dst = cw
	}
	if resp.ContentLength >= 0 && resp.ContentLength <= smallBody {
		if _, err := io.CopyN(dst, resp.Body, resp.ContentLength); err != nil {
			bw.Flush()
			return false, err
		}
	} else {
		bp := copyBufPool.Get().(*[]byte)
		defer copyBufPool.Put(bp)
		for {
			n, rerr := resp.Body.Read(*bp)
			if n > 0 {
				if _, err := dst.Write((*bp)[:n]); err != nil {
					return false, err
				}
				if rerr == nil {
					if err := bw.Flush(); err != nil {
						return false, err
					}
				}
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			if rerr != nil {
				bw.Flush()
				return false, rerr
			}
		}
	}
	if chunked {
		cw.Close()
		bw.WriteString("\r\n")
	}
	return keep, bw.Flush()
}
