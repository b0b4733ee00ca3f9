package config

import "strings"

// Environ turns os.Environ()-style NAME=value entries into a map. The first
// of duplicate names wins, as getenv would return it.
func Environ(kv []string) map[string]string {
	m := make(map[string]string, len(kv))
	for _, e := range kv {
		name, value, ok := strings.Cut(e, "=")
		if !ok || name == "" {
			continue
		}
		if _, dup := m[name]; !dup {
			m[name] = value
		}
	}
	return m
}
