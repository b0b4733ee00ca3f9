package guards

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Resolution is the outcome of alias resolution for one request.
type Resolution struct {
	Model      string   // the concrete model to send
	Candidates []string // every match, best first
	Log        []string // the steps, for the model_resolution log event
}

// ResolveModel maps a requested model name to a concrete model of
// provider, given the models the provider lists (its catalogue), with the
// original's rules: a model the provider lists is kept as is; otherwise an
// alias (case-insensitive; gpt-5.<minor> also finds a "gpt-5" alias) is
// expanded: "provider/glob" patterns match the current provider's
// catalogue, bare names are other aliases (loops are cut); candidates the
// model policy refuses are dropped and the highest version wins. A
// gpt-5.<minor> the provider lacks falls back to its highest gpt-5.x.
// ok is false when nothing resolves: the request then goes as sent (and
// the model guards judge the name the agent used).
//
// Not carried over: the original's "middle-power" fallback, which picks a
// median-capability model when nothing matches; a request that names no
// resolvable model is forwarded unchanged instead of silently rerouted.
func (c *Config) ResolveModel(requested, provider string, catalog []string) (Resolution, bool) {
	var log []string
	if provider == "copilot" && strings.EqualFold(requested, "auto") {
		return Resolution{}, false
	}
	r, ok := c.resolve(requested, provider, catalog, nil, true, &log)
	r.Log = log
	return r, ok
}

var gpt5Minor = regexp.MustCompile(`^(gpt-5)\.\d+(?:[._-].*)?$`)

func (c *Config) resolve(requested, provider string, catalog, chain []string, top bool, log *[]string) (Resolution, bool) {
	key := strings.ToLower(requested)
	for _, k := range chain {
		if k == key {
			*log = append(*log, fmt.Sprintf("loop detected: %q already in chain [%s]", requested, strings.Join(chain, " → ")))
			return Resolution{}, false
		}
	}
	chain = append(append([]string(nil), chain...), key)
	direct := ""
	for _, m := range catalog {
		if strings.ToLower(m) == key {
			direct = m
			break
		}
	}
	if top && direct != "" {
		if !c.Permitted(direct) {
			*log = append(*log, fmt.Sprintf("model policy blocked direct match: %q", direct))
			return Resolution{}, false
		}
		*log = append(*log, fmt.Sprintf("direct match: %q → %q", requested, direct))
		return Resolution{Model: direct, Candidates: []string{direct}}, true
	}
	name, alias, found := c.findAlias(key)
	if !found {
		if m := gpt5Minor.FindStringSubmatch(key); m != nil {
			if name, alias, found = c.findAlias(m[1]); found {
				*log = append(*log, fmt.Sprintf("fallback alias: %q → %q", requested, name))
			}
		}
	}
	if !found {
		if direct != "" && c.Permitted(direct) {
			*log = append(*log, fmt.Sprintf("direct match: %q → %q", requested, direct))
			return Resolution{Model: direct, Candidates: []string{direct}}, true
		}
		if regexp.MustCompile(`^gpt-5\.\d+$`).MatchString(key) {
			var fam []string
			for _, m := range catalog {
				if strings.HasPrefix(strings.ToLower(m), "gpt-5.") && c.Permitted(m) {
					fam = append(fam, m)
				}
			}
			if len(fam) > 0 {
				fam = sortByVersion(fam)
				*log = append(*log, fmt.Sprintf("requested model %q not available, falling back to %q", requested, fam[0]))
				return Resolution{Model: fam[0], Candidates: fam}, true
			}
		}
		return Resolution{}, false
	}
	*log = append(*log, fmt.Sprintf("alias: %q → [%s]", requested, strings.Join(alias.Patterns, ", ")))
	var cands []string
	for _, p := range alias.Patterns {
		prov, glob, scoped := strings.Cut(p, "/")
		if !scoped {
			if sub, ok := c.resolve(p, provider, catalog, chain, false, log); ok {
				cands = append(cands, sub.Model)
			}
			continue
		}
		if !strings.EqualFold(prov, provider) {
			continue
		}
		for _, m := range catalog {
			if Glob(glob, m) {
				cands = append(cands, m)
			}
		}
	}
	var ok []string
	for _, m := range cands {
		if c.Permitted(m) {
			ok = append(ok, m)
		}
	}
	if len(ok) < len(cands) {
		*log = append(*log, fmt.Sprintf("model policy filtered out %d candidate(s)", len(cands)-len(ok)))
	}
	if len(ok) == 0 {
		*log = append(*log, fmt.Sprintf("no candidates found for %q on provider %q", name, provider))
		return Resolution{}, false
	}
	ok = sortByVersion(dedupe(ok))
	*log = append(*log, fmt.Sprintf("resolved: %q → %q", requested, ok[0]))
	return Resolution{Model: ok[0], Candidates: ok}, true
}

func (c *Config) findAlias(key string) (string, Alias, bool) {
	if a, ok := c.Aliases[key]; ok {
		return key, a, true
	}
	// Case-insensitive, deterministic when two keys differ only in case.
	names := make([]string, 0, len(c.Aliases))
	for k := range c.Aliases {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if strings.ToLower(k) == key {
			return k, c.Aliases[k], true
		}
	}
	return "", Alias{}, false
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	out := xs[:0:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

var digits = regexp.MustCompile(`\d+`)

// sortByVersion orders models by their numeric parts, highest first, then
// by name.
func sortByVersion(ms []string) []string {
	ver := func(s string) []int {
		var v []int
		for _, d := range digits.FindAllString(s, -1) {
			n, _ := strconv.Atoi(d)
			v = append(v, n)
		}
		return v
	}
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := ver(ms[i]), ver(ms[j])
		for k := 0; k < max(len(a), len(b)); k++ {
			x, y := 0, 0
			if k < len(a) {
				x = a[k]
			}
			if k < len(b) {
				y = b[k]
			}
			if x != y {
				return x > y
			}
		}
		return ms[i] < ms[j]
	})
	return ms
}
