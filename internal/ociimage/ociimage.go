// Package ociimage assembles container images without a registry, a
// Dockerfile or a daemon-side build: one uncompressed layer written as a
// deterministic tar (sorted entries, fixed mtimes and owners, no user or
// group names), an image config and an OCI manifest, packed into one
// tarball that is both an OCI image layout (oci-layout, index.json,
// blobs/) and a `docker save` archive (manifest.json), so `docker load`
// accepts it on old engines (Debian's 20.10 loads only the latter).
//
// Why not `docker build`: Debian's engine (20.10) has no
// rewrite-timestamp, so its layers carry build-time mtimes and the digest
// changes on every build; and nothing can be pulled here anyway. Same
// inputs (files, modes, config, SourceDate) give the same bytes, hence the
// same config digest (the image ID docker shows) and manifest digest.
package ociimage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// File is one entry of the image's filesystem.
type File struct {
	Path     string // absolute, e.g. /usr/local/bin/awf
	Mode     int64  // permission bits (and setuid etc.)
	Data     []byte // regular file content
	Dir      bool
	Linkname string // symlink target, when non-empty
	UID, GID int
}

// Image is everything that decides an image's bytes.
type Image struct {
	RepoTag      string // e.g. awf/api-proxy:dev
	Files        []File
	Entrypoint   []string
	Cmd          []string
	User         string
	Env          []string
	WorkingDir   string
	ExposedPorts []string // "10000/tcp"
	Labels       map[string]string
	// SourceDate is the time stamped on every file and in the config
	// (SOURCE_DATE_EPOCH); the zero value means the Unix epoch.
	SourceDate time.Time
}

// Result names the digests of a written image.
type Result struct {
	ConfigDigest   string // sha256:..., docker's image ID
	ManifestDigest string // sha256:..., the OCI manifest
	LayerDigest    string
	Size           int64 // bytes of the uncompressed layer
}

func (im *Image) date() time.Time {
	if im.SourceDate.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return im.SourceDate.UTC()
}

// Layer returns the layer tar: every parent directory is created, entries
// are sorted by path, times and owners are fixed.
func (im *Image) Layer() ([]byte, error) {
	entries := map[string]File{}
	for _, f := range im.Files {
		p := path.Clean("/" + f.Path)
		if p == "/" {
			continue
		}
		if _, dup := entries[p]; dup {
			return nil, fmt.Errorf("ociimage: %s listed twice", p)
		}
		entries[p] = f
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = File{Path: d, Dir: true, Mode: 0o755}
			}
		}
	}
	names := make([]string, 0, len(entries))
	for p := range entries {
		names = append(names, p)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := im.date()
	for _, p := range names {
		f := entries[p]
		h := &tar.Header{Name: strings.TrimPrefix(p, "/"), Mode: f.Mode, Uid: f.UID, Gid: f.GID,
			ModTime: mt, Format: tar.FormatPAX}
		switch {
		case f.Dir:
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		case f.Linkname != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.Linkname
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

type blob struct {
	digest string
	data   []byte
}

// Write writes the image tarball to w.
func (im *Image) Write(w io.Writer) (Result, error) {
	layer, err := im.Layer()
	if err != nil {
		return Result{}, err
	}
	ld := digest(layer)
	ports := map[string]struct{}{}
	for _, p := range im.ExposedPorts {
		ports[p] = struct{}{}
	}
	cfg := map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      im.date().Format(time.RFC3339),
		"config": map[string]any{
			"User": im.User, "Env": im.Env, "Entrypoint": im.Entrypoint, "Cmd": im.Cmd,
			"WorkingDir": im.WorkingDir, "ExposedPorts": ports, "Labels": im.Labels,
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{ld}},
		"history": []map[string]any{{"created": im.date().Format(time.RFC3339), "created_by": "awf ociimage"}},
	}
	cb, err := json.Marshal(cfg) // map keys are sorted: stable bytes
	if err != nil {
		return Result{}, err
	}
	cd := digest(cb)
	man := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cb)},
		"layers":        []map[string]any{{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}},
	}
	mb, _ := json.Marshal(man)
	md := digest(mb)
	index := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []map[string]any{{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": len(mb),
			"annotations": map[string]string{"org.opencontainers.image.ref.name": im.RepoTag, "io.containerd.image.name": im.RepoTag}}},
	}
	ib, _ := json.Marshal(index)
	bp := func(d string) string { return "blobs/sha256/" + strings.TrimPrefix(d, "sha256:") }
	dm, _ := json.Marshal([]map[string]any{{"Config": bp(cd), "RepoTags": []string{im.RepoTag}, "Layers": []string{bp(ld)}}})

	tw := tar.NewWriter(w)
	mt := im.date()
	put := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: mt, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Mode: 0o755, ModTime: mt, Typeflag: tar.TypeDir, Format: tar.FormatPAX}); err != nil {
			return Result{}, err
		}
	}
	blobs := []blob{{cd, cb}, {ld, layer}, {md, mb}}
	sort.Slice(blobs, func(i, j int) bool { return blobs[i].digest < blobs[j].digest })
	for _, b := range blobs {
		if err := put(bp(b.digest), b.data); err != nil {
			return Result{}, err
		}
	}
	for _, f := range []struct {
		n string
		b []byte
	}{{"index.json", ib}, {"manifest.json", dm}, {"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)}} {
		if err := put(f.n, f.b); err != nil {
			return Result{}, err
		}
	}
	if err := tw.Close(); err != nil {
		return Result{}, err
	}
	return Result{ConfigDigest: cd, ManifestDigest: md, LayerDigest: ld, Size: int64(len(layer))}, nil
}
