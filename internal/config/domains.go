package config

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// SplitList splits a comma-separated domain list: entries are trimmed,
// empty ones dropped and duplicates removed, keeping the first occurrence.
func SplitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return dedupe(out)
}

// ParseDomainsFile reads a domains file: one entry per line or several
// comma-separated, `#` starts a comment (anywhere on a line).
func ParseDomainsFile(data []byte) []string {
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		out = append(out, SplitList(line)...)
	}
	return dedupe(out)
}

func readDomainsFile(sys System, path string) ([]string, error) {
	data, err := sys.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("Domains file not found: %s", path)
		}
		return nil, err
	}
	return ParseDomainsFile(data), nil
}

func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
