package sandbox

import (
	"reflect"
	"strings"
	"testing"
)

// TestWithoutOverlayPlan: with NoOverlay the plan has no overlay left; the
// union and every tool dir take their fallback, in place, and the rest of
// the plan (masks that create credential placeholders in the copies) is
// the same as with overlays.
func TestWithoutOverlayPlan(t *testing.T) {
	in := baseInput()
	with, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	in.NoOverlay = "test"
	in.MemoryBytes = 4 << 30
	p, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	if p.NoOverlay != "test" {
		t.Fatal("plan does not say NoOverlay")
	}
	var unions, copies int
	at := map[string]int{}
	for i, m := range p.Mounts {
		at[m.Kind+" "+m.Target] = i
		switch m.Kind {
		case KindOverlay:
			t.Errorf("overlay left in the plan: %+v", m)
		case KindUnion:
			unions++
			if m.Target != "/usr/local/bin" || !reflect.DeepEqual(m.Lower, []string{"/.awf/bin", "/usr/local/bin"}) {
				t.Errorf("union: %+v", m)
			}
		case KindCopy:
			copies++
			if m.MaxBytes != (4<<30)/40 || m.MaxFiles != CopyDirMaxFiles {
				t.Errorf("copy bounds: %+v", m)
			}
		}
	}
	if unions != 1 || copies != len(ToolDirs) {
		t.Fatalf("unions %d copies %d, want 1 and %d", unions, copies, len(ToolDirs))
	}
	for i, d := range ToolDirs {
		up := ToolUpperRoot + "/" + string(rune('0'+i))
		if i >= 10 {
			t.Fatal("test assumes fewer than 10 tool dirs")
		}
		tm, ok1 := at[KindTmpfs+" "+up]
		cp, ok2 := at[KindCopy+" "+up+"/copy"]
		bd, ok3 := at[KindBind+" /home/u/"+d]
		if !ok1 || !ok2 || !ok3 || !(at[KindTmpfs+" "+ToolUpperRoot] < tm && tm < cp && cp < bd) {
			t.Errorf("%s: tmpfs %d copy %d bind %d (found %v %v %v)", d, tm, cp, bd, ok1, ok2, ok3)
			continue
		}
		if m := p.Mounts[tm]; !strings.Contains(m.Options, "size="+CopyTmpfsSize) {
			t.Errorf("%s: copy tmpfs not size-capped: %q", d, m.Options)
		}
		if m := p.Mounts[cp]; m.Source != "/home/u/"+d || !m.Optional {
			t.Errorf("%s: copy %+v", d, m)
		}
		if m := p.Mounts[bd]; !m.FromRoot || m.Source != up+"/copy" || m.ReadOnly {
			t.Errorf("%s: bind %+v", d, m)
		}
	}
	// Everything but the overlays is unchanged (credential placeholders
	// are still created: a copy is the run's own, like an upper layer).
	strip := func(ms []Mount) []Mount {
		var out []Mount
		for _, m := range ms {
			switch {
			case m.Kind == KindOverlay, m.Kind == KindUnion, m.Kind == KindCopy,
				m.FromRoot, m.Kind == KindTmpfs && strings.HasPrefix(m.Target, ToolUpperRoot+"/"):
				continue
			}
			out = append(out, m)
		}
		return out
	}
	if a, b := strip(with.Mounts), strip(p.Mounts); !reflect.DeepEqual(a, b) {
		t.Errorf("the fallback changed other mounts:\n%+v\n%+v", a, b)
	}
	for _, m := range p.Mounts {
		if m.Kind == KindMask && m.Target == "/home/u/.config/gh/hosts.yml" && !m.Create {
			t.Errorf("hosts.yml placeholder not created in the copy: %+v", m)
		}
	}
}

func TestCopyExclude(t *testing.T) {
	tests := []struct {
		target string
		want   []string
	}{
		{"/home/u/.config", []string{"containers/auth.json", "doctl/config.yaml", "gcloud/access_tokens.db",
			"gcloud/application_default_credentials.json", "gcloud/credentials.db", "gh/hosts.yml", "helm/repositories.yaml",
			"heroku", "hub", "op", "pulumi/credentials.json", "rclone/rclone.conf"}},
		{"/home/u/.local", []string{"state/sandboxes"}},
		{"/home/u/.cargo", []string{"credentials", "credentials.toml"}},
		{"/home/u/.claude", []string{".credentials.json"}},
		{"/home/u/.cache", nil},
		{"/home/u/.config/", []string{"containers/auth.json", "doctl/config.yaml", "gcloud/access_tokens.db",
			"gcloud/application_default_credentials.json", "gcloud/credentials.db", "gh/hosts.yml", "helm/repositories.yaml",
			"heroku", "hub", "op", "pulumi/credentials.json", "rclone/rclone.conf"}},
		{"/home/u/.configx", nil},
	}
	for _, tc := range tests {
		if got := CopyExclude("/home/u", tc.target); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %q want %q", tc.target, got, tc.want)
		}
	}
}

func TestExcluded(t *testing.T) {
	excl := []string{"gh/hosts.yml", "heroku"}
	for rel, want := range map[string]bool{
		"gh/hosts.yml": true, "heroku": true, "heroku/x": true, "heroku/a/b": true,
		"gh": false, "gh/config.yml": false, "herokux": false, "gh/hosts.yml.bak": false, "": false,
	} {
		if got := Excluded(rel, excl); got != want {
			t.Errorf("Excluded(%q) = %v", rel, got)
		}
	}
}

func TestUnionSteps(t *testing.T) {
	layers := []Layer{
		{Dir: "/.awf/bin", Entries: []Entry{{Name: "get-claude-key.sh", Type: File}}},
		{Dir: "/usr/local/bin", Entries: []Entry{
			{Name: "get-claude-key.sh", Type: File}, // shadowed by the top layer
			{Name: "node", Type: Symlink, Link: "../lib/node/bin/node"},
			{Name: "tools", Type: Dir},
			{Name: "fifo", Type: Other},
			{Name: "..", Type: Dir}, {Name: "a/b", Type: File}, {Name: "", Type: File},
		}},
		{Dir: "/missing"},
	}
	got := UnionSteps("/usr/local/bin", layers)
	st := UnionStage + "/usr/local/bin"
	want := []Mount{
		{Kind: KindTmpfs, Target: st, Options: unionTmpfsOpts},
		{Kind: KindBind, Source: "/.awf/bin/get-claude-key.sh", Target: st + "/get-claude-key.sh", ReadOnly: true, FromRoot: true},
		{Kind: KindSymlink, Target: st + "/node", Data: []byte("../lib/node/bin/node")},
		{Kind: KindBind, Source: "/usr/local/bin/tools", Target: st + "/tools", ReadOnly: true, FromRoot: true},
		{Kind: KindRemount, Target: st},
		{Kind: KindMove, Source: st, Target: "/usr/local/bin"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
	if got := UnionSteps("/x", nil); len(got) != 3 || got[0].Kind != KindTmpfs || got[1].Kind != KindRemount || got[2].Kind != KindMove {
		t.Errorf("empty union: %+v", got)
	}
}

func TestChooseCopy(t *testing.T) {
	const M = 1 << 20
	tests := []struct {
		name     string
		es       []Sized
		maxB     int64
		maxF     int
		wantSkip []string
	}{
		{"fits", []Sized{{"a", 10 * M, 5, false}, {"b", 20 * M, 5, false}}, 30 * M, 10, nil},
		{"largest goes first", []Sized{{"go-build", 200 * M, 900, false}, {"pip", 50 * M, 100, false}, {"gh", 1 * M, 3, false}}, 100 * M, 5000, []string{"go-build"}},
		{"two go", []Sized{{"a", 60 * M, 1, false}, {"b", 50 * M, 1, false}, {"c", 40 * M, 1, false}}, 45 * M, 10, []string{"a", "b"}},
		{"over alone", []Sized{{"huge", 1, 0, true}, {"small", 1, 1, false}}, 100 * M, 10, []string{"huge"}},
		{"too many files", []Sized{{"npm", 5 * M, 9000, false}, {"conf", 1 * M, 10, false}}, 100 * M, 5000, []string{"npm"}},
		{"files sum", []Sized{{"x", 1, 3000, false}, {"y", 1, 3000, false}}, 100 * M, 5000, []string{"x"}},
		{"ties by name", []Sized{{"b", 10, 1, false}, {"a", 10, 1, false}}, 10, 10, []string{"a"}},
		{"empty", nil, 1, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ChooseCopy(tc.es, tc.maxB, tc.maxF)
			if !reflect.DeepEqual(got, tc.wantSkip) {
				t.Fatalf("skip %q, want %q", got, tc.wantSkip)
			}
			var b int64
			f := 0
			for _, e := range tc.es {
				if !Excluded(e.Name, got) {
					b, f = b+e.Bytes, f+e.Files
				}
			}
			if b > tc.maxB || f > tc.maxF {
				t.Fatalf("kept %d bytes %d files, over %d/%d", b, f, tc.maxB, tc.maxF)
			}
		})
	}
	msg := SkipNotice("/home/u/.cache", []Sized{{"go-build", 200 << 20, 900, false}, {"huge", 0, 0, true}}, []string{"go-build", "huge"}, 100<<20, 5000)
	for _, want := range []string{"/home/u/.cache", "100.0 MiB", "go-build (200.0 MiB, 900 entries)", "huge (over 5000 entries)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("notice lacks %q: %s", want, msg)
		}
	}
}

func TestCopyLimits(t *testing.T) {
	for _, tc := range []struct {
		mem  int64
		want int64
	}{{0, DefaultMemory / 40}, {16 << 30, CopyDirMaxBytes}, {4 << 30, (4 << 30) / 40}, {64 << 20, (64 << 20) / 40}} {
		if got, files := CopyLimits(tc.mem); got != tc.want || files != CopyDirMaxFiles {
			t.Errorf("CopyLimits(%d) = %d, %d", tc.mem, got, files)
		}
	}
}
