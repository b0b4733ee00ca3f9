package config

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/awf-dev/awf/internal/domains"
)

// readDomainsFile is domains.ReadFile over sys, so tests need no files.
func readDomainsFile(sys System, path string) ([]string, error) {
	data, err := sys.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("Domains file not found: %s", path) //nolint:staticcheck // the original's message
		}
		return nil, err
	}
	return domains.ParseFile(string(data)), nil
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
