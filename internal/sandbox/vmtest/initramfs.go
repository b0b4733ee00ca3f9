// Package vmtest boots a real Linux kernel with a unified cgroup v2
// hierarchy in QEMU and runs awf there (TestCgroupV2InVM): the hosts this
// project is developed on are cgroup v1, GitHub-hosted runners are v2.
// This file builds the VM's initramfs; everything here is test support.
package vmtest

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// File is one initramfs entry: a directory, a symlink (Link) or a file
// (Data), with its mode's permission bits.
type File struct {
	Path string
	Mode uint32
	Dir  bool
	Link string
	Data []byte
}

// WriteNewc writes files as an uncompressed "newc" cpio archive, which the
// kernel unpacks as its initial root. Parents must come before children.
func WriteNewc(w io.Writer, files []File) error {
	ino := 1
	entry := func(name string, mode uint32, data []byte) error {
		hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
		ino++
		var b bytes.Buffer
		b.WriteString(hdr)
		b.WriteString(name)
		b.WriteByte(0)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.Write(data)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		_, err := w.Write(b.Bytes())
		return err
	}
	for _, f := range files {
		name := strings.TrimPrefix(filepath.Clean("/"+f.Path), "/")
		var err error
		switch {
		case f.Dir:
			err = entry(name, 0o040000|f.Mode&0o7777, nil)
		case f.Link != "":
			err = entry(name, 0o120000|0o777, []byte(f.Link))
		default:
			err = entry(name, 0o100000|f.Mode&0o7777, f.Data)
		}
		if err != nil {
			return err
		}
	}
	return entry("TRAILER!!!", 0, nil)
}

// ModuleIndex maps module names (with '_') to their .ko files under dir.
func ModuleIndex(dir string) (map[string]string, error) {
	idx := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".ko") {
			idx[modName(filepath.Base(p))] = p
		}
		return nil
	})
	return idx, err
}

func modName(s string) string { return strings.ReplaceAll(strings.TrimSuffix(s, ".ko"), "-", "_") }

// ModuleOrder returns the .ko files of roots and of everything they
// depend on (each module's .modinfo "depends=", and the "pre:" modules of
// its "softdep=", such as libcrc32c's crc32c, found by name or alias),
// dependencies first: the order insmod needs.
func ModuleOrder(idx map[string]string, roots []string) ([]string, error) {
	var out []string
	state := map[string]int{} // 1 visiting, 2 done
	var aliases map[string][]string
	resolve := func(name string) (string, bool) {
		if _, ok := idx[modName(name)]; ok {
			return modName(name), true
		}
		if aliases == nil {
			aliases = map[string][]string{}
			for n, p := range idx {
				info, _ := modinfo(p)
				for _, a := range info["alias"] {
					aliases[a] = append(aliases[a], n)
				}
			}
		}
		cands := aliases[name]
		if len(cands) == 0 {
			return "", false
		}
		// The portable implementation when there is one (crc32c_generic
		// rather than crc32c_intel).
		sort.Slice(cands, func(i, j int) bool {
			gi, gj := strings.HasSuffix(cands[i], "_generic"), strings.HasSuffix(cands[j], "_generic")
			if gi != gj {
				return gi
			}
			return cands[i] < cands[j]
		})
		return cands[0], true
	}
	var visit func(string) error
	visit = func(want string) error {
		name, ok := resolve(want)
		if !ok {
			return fmt.Errorf("module %s not found", want)
		}
		switch state[name] {
		case 1:
			return fmt.Errorf("module dependency cycle at %s", name)
		case 2:
			return nil
		}
		state[name] = 1
		info, err := modinfo(idx[name])
		if err != nil {
			return err
		}
		var deps []string
		for _, d := range info["depends"] {
			for _, x := range strings.Split(d, ",") {
				if x != "" {
					deps = append(deps, x)
				}
			}
		}
		for _, sd := range info["softdep"] {
			pre := false
			for _, w := range strings.Fields(sd) {
				switch w {
				case "pre:":
					pre = true
				case "post:":
					pre = false
				default:
					if pre {
						deps = append(deps, w)
					}
				}
			}
		}
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(d); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		state[name] = 2
		out = append(out, idx[name])
		return nil
	}
	for _, r := range roots {
		if err := visit(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// modinfo reads a module's .modinfo section: key -> values.
func modinfo(path string) (map[string][]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := f.Section(".modinfo")
	if s == nil {
		return nil, fmt.Errorf("%s: no .modinfo", path)
	}
	b, err := s.Data()
	if err != nil {
		return nil, err
	}
	info := map[string][]string{}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			info[k] = append(info[k], v)
		}
	}
	return info, nil
}
