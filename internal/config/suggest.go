package config

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// SuggestFlag is a cobra FlagErrorFunc: an unknown flag stays an error,
// with the closest known flag suggested, as the original (commander) does:
// "(Did you mean --allow-domains?)". Cobra suggests only subcommands.
func SuggestFlag(fs *pflag.FlagSet, err error) error {
	msg := err.Error()
	var name string
	switch {
	case strings.HasPrefix(msg, "unknown flag: --"):
		name = strings.TrimPrefix(msg, "unknown flag: --")
	case strings.HasPrefix(msg, "unknown shorthand flag: "):
		// "unknown shorthand flag: 'x' in -xyz": suggest only for a lone -x.
		if i := strings.LastIndex(msg, " in -"); i > 0 && len(msg)-i-len(" in -") > 1 {
			name = msg[i+len(" in -"):] // -allow-domains written with one dash
		}
	default:
		return err
	}
	if best := closestFlag(fs, name); best != "" {
		return fmt.Errorf("%s\n(Did you mean --%s?)", msg, best)
	}
	return err
}

// closestFlag returns the visible flag nearest to name: a prefix match,
// else the smallest edit distance within a third of the name's length
// (at least 2, as commander's suggestSimilar allows).
func closestFlag(fs *pflag.FlagSet, name string) string {
	name = strings.ToLower(strings.SplitN(name, "=", 2)[0])
	if name == "" {
		return ""
	}
	best, bestD := "", 1<<30
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Hidden {
			return
		}
		d := editDistance(name, fl.Name)
		if d < bestD || (d == bestD && fl.Name < best) {
			best, bestD = fl.Name, d
		}
	})
	limit := len(name) / 3
	if limit < 2 {
		limit = 2
	}
	if bestD <= limit {
		return best
	}
	return ""
}

// editDistance is the Damerau-Levenshtein (optimal string alignment)
// distance, as commander's suggestion uses.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
