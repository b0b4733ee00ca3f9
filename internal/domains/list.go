package domains

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// SplitList splits a comma-separated list as --allow-domains and
// --block-domains take it: entries trimmed, empty ones dropped, duplicates
// removed (first occurrence kept).
func SplitList(s string) []string {
	return dedupStrings(splitComma(s))
}

func splitComma(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = trimJS(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// ReadFile reads a domains file (--allow-domains-file, --block-domains-file):
// one entry per line or comma-separated entries on a line; `#` starts a
// comment that runs to the end of the line. Duplicates are removed.
func ReadFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("Domains file not found: %s", path) //nolint:staticcheck // upstream message, capitalised as the original
	}
	if err != nil {
		return nil, err
	}
	return ParseFile(string(b)), nil
}

// ParseFile parses the contents of a domains file (see ReadFile).
func ParseFile(content string) []string {
	content = strings.TrimPrefix(content, "\uFEFF")
	var out []string
	for _, line := range strings.Split(content, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		out = append(out, splitComma(line)...)
	}
	return dedupStrings(out)
}

func dedupStrings(in []string) []string {
	seen := make(map[string]struct{}, len(in))
	out := in[:0]
	for _, s := range in {
		if _, ok := seen[s]; ok {
			continue
		}
		seen[s] = struct{}{}
		out = append(out, s)
	}
	return out
}

// isJSSpace is JavaScript's \s (and what String.prototype.trim removes), so
// that trimming and the "invalid character" check behave as the original's.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return 0x2000 <= r && r <= 0x200a
}

func trimJS(s string) string { return strings.TrimFunc(s, isJSSpace) }
