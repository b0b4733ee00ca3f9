package runstate

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ArtifactsFile, in the state root, lists the directories where runs left
// logs and artifacts under names of the user's choosing (--proxy-logs-dir,
// --audit-dir, a kept --work-dir) or under another temp dir, one absolute
// path a line, so that every later sandbox can hide them. Names awf
// generates under /tmp are found by their pattern instead.
const ArtifactsFile = "artifacts"

// RecordArtifacts adds dirs to root's artifacts list and drops the
// entries that no longer exist, under the file's lock (runs may finish at
// the same moment).
func RecordArtifacts(root string, dirs ...string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(root, ArtifactsFile), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	set := map[string]bool{}
	for _, d := range append(readLines(f), dirs...) {
		if d = filepath.Clean(d); filepath.IsAbs(d) {
			if _, err := os.Lstat(d); err == nil {
				set[d] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	if err := f.Truncate(0); err != nil {
		return err
	}
	body := strings.Join(out, "\n")
	if body != "" {
		body += "\n"
	}
	_, err = f.WriteAt([]byte(body), 0)
	return err
}

// Artifacts returns root's artifacts list.
func Artifacts(root string) []string {
	f, err := os.Open(filepath.Join(root, ArtifactsFile))
	if err != nil {
		return nil
	}
	defer f.Close()
	unix.Flock(int(f.Fd()), unix.LOCK_SH)
	return readLines(f)
}

func readLines(f *os.File) []string {
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
