package config

import (
	"regexp"
	"strings"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidEnvName reports whether s is a portable environment variable name.
func ValidEnvName(s string) bool { return envName.MatchString(s) }

// ParseEnvFile reads KEY=VALUE lines. Blank lines and lines starting with
// `#` are skipped; the value is taken as is (no quote stripping, like the
// original). Lines that are not KEY=VALUE with a valid name are returned
// by number in bad.
func ParseEnvFile(data []byte) (vars []EnvVar, bad []int) {
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		name, value, ok := strings.Cut(strings.TrimLeft(line, " \t"), "=")
		if !ok || !ValidEnvName(name) {
			bad = append(bad, i+1)
			continue
		}
		vars = append(vars, EnvVar{Name: name, Value: value})
	}
	return vars, bad
}
