package ociimage

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"testing"
	"time"
)

func sample(date time.Time, bin []byte) Inputs {
	return Inputs{AWF: bin, Healthcheck: []byte("hc"), CABundle: []byte("pem"), Tag: "t", SourceDate: date}
}

// TestDigestStable: the same inputs give byte-identical tarballs (so the
// same image ID and manifest digest); a changed input or date changes them.
func TestDigestStable(t *testing.T) {
	d := time.Unix(1700000000, 0)
	write := func(in Inputs) ([][]byte, []Result) {
		var bs [][]byte
		var rs []Result
		for _, im := range in.Images() {
			var b bytes.Buffer
			r, err := im.Write(&b)
			if err != nil {
				t.Fatal(err)
			}
			bs, rs = append(bs, b.Bytes()), append(rs, r)
		}
		return bs, rs
	}
	b1, r1 := write(sample(d, []byte("binary")))
	time.Sleep(1100 * time.Millisecond) // a build a second later must not differ
	b2, r2 := write(sample(d, []byte("binary")))
	for i := range b1 {
		if !bytes.Equal(b1[i], b2[i]) || r1[i] != r2[i] {
			t.Fatalf("image %d differs between two builds of the same inputs: %+v vs %+v", i, r1[i], r2[i])
		}
	}
	_, r3 := write(sample(d, []byte("binary2")))
	_, r4 := write(sample(d.Add(time.Second), []byte("binary")))
	for i := range r1 {
		if r3[i].ConfigDigest == r1[i].ConfigDigest || r4[i].ConfigDigest == r1[i].ConfigDigest {
			t.Fatalf("image %d: digest did not follow its inputs", i)
		}
	}
	if r1[0].ConfigDigest == r1[1].ConfigDigest {
		t.Fatal("api-proxy and egress images must differ (entrypoints)")
	}
}

// TestLayerIsDeterministicAndComplete checks what docker and an OCI
// runtime rely on: parents before children, fixed times and owners, no
// user names, the sidecar's files and entrypoint.
func TestLayerIsDeterministicAndComplete(t *testing.T) {
	d := time.Unix(42, 0)
	ims := sample(d, []byte("bin")).Images()
	api := ims[0]
	layer, err := api.Layer()
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(layer))
	seen := map[string]*tar.Header{}
	prev := ""
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name <= prev {
			t.Fatalf("entries not sorted: %q after %q", h.Name, prev)
		}
		prev = h.Name
		if !h.ModTime.Equal(d) || h.Uname != "" || h.Gname != "" {
			t.Fatalf("%s: mtime %v uname %q", h.Name, h.ModTime, h.Uname)
		}
		seen[h.Name] = h
	}
	for _, want := range []string{"usr/", "usr/local/", "usr/local/bin/awf", "usr/bin/curl", "usr/bin/nc", "etc/passwd", "tmp/", "var/log/api-proxy/"} {
		if seen[want] == nil {
			t.Errorf("layer lacks %s", want)
		}
	}
	if h := seen["tmp/"]; h != nil && h.Mode&0o1777 != 0o1777 {
		t.Errorf("/tmp mode %o", h.Mode)
	}
	if h := seen["var/log/api-proxy/"]; h != nil && h.Uid != SidecarUID {
		t.Errorf("token log dir owned by %d, not the sidecar user", h.Uid)
	}
	for _, bad := range []string{"bin/sh", "usr/bin/sh"} {
		if seen[bad] != nil {
			t.Errorf("the sidecar image must have no shell: %s", bad)
		}
	}
	if api.User != "10001:10001" || api.Entrypoint[1] != "api-proxy" {
		t.Fatalf("api-proxy image: user %q entrypoint %v", api.User, api.Entrypoint)
	}
	var b bytes.Buffer
	if _, err := api.Write(&b); err != nil {
		t.Fatal(err)
	}
	tr = tar.NewReader(&b)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		data, _ := io.ReadAll(tr)
		files[h.Name] = data
	}
	for _, n := range []string{"oci-layout", "index.json", "manifest.json"} {
		if files[n] == nil {
			t.Fatalf("archive lacks %s", n)
		}
	}
	var dm []struct{ Config string }
	if err := json.Unmarshal(files["manifest.json"], &dm); err != nil || len(dm) != 1 || files[dm[0].Config] == nil {
		t.Fatalf("docker manifest.json does not name a config blob: %s", files["manifest.json"])
	}
}

func TestDuplicatePathRefused(t *testing.T) {
	im := Image{Files: []File{{Path: "/a", Data: []byte("1")}, {Path: "a", Data: []byte("2")}}}
	if _, err := im.Layer(); err == nil {
		t.Fatal("a path listed twice must be an error")
	}
}
