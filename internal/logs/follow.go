package logs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"
)

// FollowOptions tune Follow.
type FollowOptions struct {
	// Interval between polls when there is nothing new (default 200 ms).
	Interval time.Duration
	// Backlog is how many existing lines to show first, as tail -f shows 10.
	// Negative shows the whole file.
	Backlog int
}

// Follow calls fn for every complete line appended to path until ctx ends,
// starting with the last Backlog lines. It polls rather than using inotify
// so it works on any file system, waits for a file that does not exist yet,
// and survives rotation (the name now points to a new file: the old one is
// read to its end, then the new one from its start) and truncation (the
// file got shorter: read again from the start). A line still being written
// is held back until its newline arrives; one longer than MaxLineBytes is
// dropped. Returns ctx.Err() when cancelled, or fn's error.
func Follow(ctx context.Context, path string, o FollowOptions, fn func(line string) error) error {
	if o.Interval <= 0 {
		o.Interval = 200 * time.Millisecond
	}
	t := &tailer{path: path, fn: fn, buf: make([]byte, 64<<10)}
	first := true
	for {
		if t.f == nil {
			if err := t.open(first, o.Backlog); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			first = false
		}
		progressed := false
		if t.f != nil {
			n, err := t.drain()
			if err != nil {
				return err
			}
			progressed = n > 0
			if !progressed {
				if err := t.checkReplaced(); err != nil {
					return err
				}
			}
		}
		if progressed {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		select {
		case <-ctx.Done():
			if t.f != nil {
				t.f.Close()
			}
			return ctx.Err()
		case <-time.After(o.Interval):
		}
	}
}

type tailer struct {
	path    string
	f       *os.File
	off     int64
	partial []byte
	long    bool // inside a too-long line: skip to its newline
	buf     []byte
	fn      func(string) error
}

func (t *tailer) open(first bool, backlog int) error {
	f, err := os.Open(t.path)
	if err != nil {
		return err
	}
	t.f, t.off, t.partial, t.long = f, 0, t.partial[:0], false
	if first && backlog >= 0 {
		t.off, err = backlogOffset(f, backlog)
		if err != nil {
			f.Close()
			t.f = nil
			return err
		}
	}
	return nil
}

// drain reads what is new and emits complete lines.
func (t *tailer) drain() (int, error) {
	total := 0
	for {
		n, err := t.f.ReadAt(t.buf, t.off)
		if n > 0 {
			total += n
			t.off += int64(n)
			if ferr := t.feed(t.buf[:n]); ferr != nil {
				return total, ferr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return total, nil
			}
			return total, err
		}
	}
}

func (t *tailer) feed(b []byte) error {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if !t.long {
				t.partial = append(t.partial, b...)
				if len(t.partial) > MaxLineBytes {
					t.partial, t.long = t.partial[:0], true
				}
			}
			return nil
		}
		chunk := b[:i]
		b = b[i+1:]
		if t.long {
			t.long = false
			continue
		}
		line := chunk
		if len(t.partial) > 0 {
			t.partial = append(t.partial, chunk...)
			line = t.partial
		}
		if len(line) > MaxLineBytes {
			t.partial = t.partial[:0]
			continue
		}
		if len(bytes.TrimSpace(line)) > 0 {
			if err := t.fn(string(bytes.TrimRight(line, "\r"))); err != nil {
				return err
			}
		}
		t.partial = t.partial[:0]
	}
	return nil
}

// checkReplaced reopens after rotation and rewinds after truncation.
func (t *tailer) checkReplaced() error {
	cur, err := t.f.Stat()
	if err != nil {
		return err
	}
	byName, err := os.Stat(t.path)
	if err != nil {
		// Rotated away and not yet recreated: keep the old file until it is.
		return nil
	}
	if !os.SameFile(cur, byName) {
		// Anything appended to the old file before the rename was read by
		// the last drain; switch to the new one from its start.
		t.f.Close()
		t.f = nil
		return t.open(false, 0)
	}
	if cur.Size() < t.off {
		t.off, t.partial, t.long = 0, t.partial[:0], false
	}
	return nil
}

// backlogOffset finds where the last n lines of f start, reading backwards
// in blocks so a large file is not read whole.
func backlogOffset(f *os.File, n int) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := st.Size()
	if n == 0 || end == 0 {
		return end, nil
	}
	const block = 64 << 10
	buf := make([]byte, block)
	pos := end
	count := 0
	// A final newline ends the last line; it does not start another.
	skipLast := true
	for pos > 0 {
		size := int64(block)
		if pos < size {
			size = pos
		}
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := size - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				continue
			}
			if skipLast && pos+i == end-1 {
				continue
			}
			count++
			if count == n {
				return pos + i + 1, nil
			}
		}
		skipLast = false
	}
	return 0, nil
}
