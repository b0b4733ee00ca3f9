package sandbox

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// Without overlayfs (a container whose runtime forbids the mount, a lower
// dir already two overlays deep, a kernel without it) the sandbox keeps the
// overlays' two promises another way. The rewrite is plan data; native
// only lists directories, copies files and mounts what these functions say.
//
//   - The read-only union at /usr/local/bin (awf's helpers over the host's
//     dir) becomes a small tmpfs holding one read-only bind mount (or
//     symlink) per entry of the layers, the top layer's entry winning, then
//     made read-only (KindUnion, expanded by UnionSteps when the layers
//     can be listed).
//   - A writable tool dir becomes a copy of the host dir in its own
//     size-capped tmpfs, bound at the target: writes stay in the run and
//     the host copy is never written. The copy is bounded (CopyLimits);
//     entries that do not fit are left out, largest first (ChooseCopy),
//     and the run says which. Credential files and dirs the sandbox hides
//     anyway are never copied (CopyExclude), so their bytes never reach
//     the sandbox's memory at all.
const (
	KindUnion   = "union"   // Lower (sandbox paths, top first) shown at Target without overlayfs
	KindCopy    = "copy"    // host dir Source copied into Target (MaxBytes, MaxFiles, Exclude)
	KindSymlink = "symlink" // a symlink at Target pointing to string(Data)
	KindMove    = "move"    // move the mount at Source (a sandbox path) to Target; Source's empty dirs go
)

// Bounds of the copy of one tool dir without overlayfs: at most
// CopyDirMaxBytes, and at most a 40th of the run's memory limit (ten tool
// dirs then take at most a quarter of it: tmpfs pages count against the
// run's memory cgroup); at most CopyDirMaxFiles files. The copy's tmpfs
// holds CopyTmpfsSize, copy and the agent's writes together.
const (
	CopyDirMaxBytes = 256 << 20
	CopyDirMaxFiles = 20_000
	CopyTmpfsSize   = "1g"
	unionTmpfsOpts  = "mode=0755,size=1m" // holds only mount points and symlinks
)

// CopyLimits returns the byte and file bounds of one tool dir's copy for a
// run with the given memory limit (0: the default).
func CopyLimits(memory int64) (maxBytes int64, maxFiles int) {
	if memory <= 0 {
		memory = DefaultMemory
	}
	maxBytes = memory / int64(4*len(ToolDirs))
	if maxBytes > CopyDirMaxBytes {
		maxBytes = CopyDirMaxBytes
	}
	return maxBytes, CopyDirMaxFiles
}

// WithoutOverlay rewrites every overlay of ms into its fallback. The plan
// is built first with overlays so that what is host-backed (and so what
// awf may create) is decided the same way in both modes: a tool dir's copy
// is as much the run's own as an overlay's upper layer.
func WithoutOverlay(ms []Mount, home string, memory int64) []Mount {
	out := make([]Mount, 0, len(ms)+2*len(ToolDirs))
	for _, m := range ms {
		if m.Kind == KindOverlay {
			out = append(out, FallbackFor(m, home, memory)...)
			continue
		}
		out = append(out, m)
	}
	return out
}

// FallbackFor is the overlay-free form of one overlay mount.
func FallbackFor(m Mount, home string, memory int64) []Mount {
	if m.Upper == "" {
		return []Mount{{Kind: KindUnion, Target: m.Target, Lower: append([]string(nil), m.Lower...)}}
	}
	maxBytes, maxFiles := CopyLimits(memory)
	copyDir := m.Upper + "/copy"
	return []Mount{
		{Kind: KindTmpfs, Target: m.Upper, Options: "mode=0700,size=" + CopyTmpfsSize},
		{Kind: KindCopy, Source: m.Source, Target: copyDir, Optional: m.Optional,
			MaxBytes: maxBytes, MaxFiles: maxFiles, Exclude: CopyExclude(home, m.Target), Shown: m.Target},
		// Optional: nothing to bind when the host has no such dir.
		{Kind: KindBind, Source: copyDir, Target: m.Target, FromRoot: true, Optional: true},
	}
}

// CopyExclude lists the paths under the tool dir target (relative to it)
// that are never copied: the credential files and dirs of home that lie in
// it. The masks that follow in the plan show the files empty as usual.
func CopyExclude(home, target string) []string {
	var out []string
	for _, list := range [][]string{CredentialFiles, CredentialDirs} {
		for _, c := range list {
			p := path.Join(home, c)
			if rel, ok := strings.CutPrefix(p, strings.TrimSuffix(target, "/")+"/"); ok {
				out = append(out, rel)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Excluded reports whether rel (a path relative to the copied dir) is one
// of excl or lies under one.
func Excluded(rel string, excl []string) bool {
	for _, e := range excl {
		if rel == e || strings.HasPrefix(rel, e+"/") {
			return true
		}
	}
	return false
}

// Entry is one directory entry of a union layer as the init lists it.
type Entry struct {
	Name string
	Type EntryType
	Link string // a symlink's target
}

// EntryType is what a union entry is; Other (devices, sockets, fifos) is
// not shown.
type EntryType int

const (
	Other EntryType = iota
	File
	Dir
	Symlink
)

// Layer is one lower dir of a union (a sandbox path) and its entries;
// Layers are given top first.
type Layer struct {
	Dir     string
	Entries []Entry
}

// UnionStage is where a union is assembled before it is moved over its
// target: a layer may be the target itself (the host's /usr/local/bin),
// which a tmpfs mounted there first would hide.
const UnionStage = "/.awf-stage"

// UnionSteps shows the union of layers at target: a small tmpfs (in
// UnionStage), one read-only bind per file or dir (symlinks recreated),
// the first layer's entry winning as in an overlay, the tmpfs made
// read-only and moved over target.
func UnionSteps(target string, layers []Layer) []Mount {
	stage := path.Join(UnionStage, target)
	steps := []Mount{{Kind: KindTmpfs, Target: stage, Options: unionTmpfsOpts}}
	seen := map[string]bool{}
	for _, l := range layers {
		for _, e := range l.Entries {
			if e.Name == "" || e.Name == "." || e.Name == ".." || strings.Contains(e.Name, "/") || seen[e.Name] {
				continue
			}
			seen[e.Name] = true
			t := path.Join(stage, e.Name)
			switch e.Type {
			case Symlink:
				steps = append(steps, Mount{Kind: KindSymlink, Target: t, Data: []byte(e.Link)})
			case File, Dir:
				steps = append(steps, Mount{Kind: KindBind, Source: path.Join(l.Dir, e.Name), Target: t, ReadOnly: true, FromRoot: true})
			}
		}
	}
	return append(steps, Mount{Kind: KindRemount, Target: stage}, Mount{Kind: KindMove, Source: stage, Target: target})
}

// Sized is one top-level entry of a tool dir, measured. Over: measuring
// stopped early because the entry alone is over the file bound.
type Sized struct {
	Name  string
	Bytes int64
	Files int
	Over  bool
}

// ChooseCopy returns the names of the entries left out so the rest fits
// in maxBytes and maxFiles: entries over a bound alone first, then the
// largest (by bytes, then files, then name) until the rest fits. A cache
// left out whole is better than one cut at a random file.
func ChooseCopy(es []Sized, maxBytes int64, maxFiles int) []string {
	var skip []string
	var keep []Sized
	var bytes int64
	files := 0
	for _, e := range es {
		if e.Over || e.Bytes > maxBytes || e.Files > maxFiles {
			skip = append(skip, e.Name)
			continue
		}
		keep = append(keep, e)
		bytes += e.Bytes
		files += e.Files
	}
	sort.SliceStable(keep, func(i, j int) bool {
		a, b := keep[i], keep[j]
		if a.Bytes != b.Bytes {
			return a.Bytes > b.Bytes
		}
		if a.Files != b.Files {
			return a.Files > b.Files
		}
		return a.Name < b.Name
	})
	for _, e := range keep {
		if bytes <= maxBytes && files <= maxFiles {
			break
		}
		skip = append(skip, e.Name)
		bytes -= e.Bytes
		files -= e.Files
	}
	sort.Strings(skip)
	return skip
}

// SkipNotice is the warning for a tool dir whose copy left entries out.
func SkipNotice(target string, es []Sized, skip []string, maxBytes int64, maxFiles int) string {
	size := map[string]Sized{}
	for _, e := range es {
		size[e.Name] = e
	}
	parts := make([]string, len(skip))
	for i, n := range skip {
		e := size[n]
		if e.Over {
			parts[i] = fmt.Sprintf("%s (over %d entries)", n, maxFiles)
		} else {
			parts[i] = fmt.Sprintf("%s (%s, %d entries)", n, mib(e.Bytes), e.Files)
		}
	}
	return fmt.Sprintf("overlayfs unavailable: %s is a copy limited to %s and %d entries; left out (dirs shown empty): %s",
		target, mib(maxBytes), maxFiles, strings.Join(parts, ", "))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
