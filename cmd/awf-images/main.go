// Command awf-images writes the awf container images as OCI layout /
// docker-archive tarballs (internal/ociimage) and prints their digests;
// with -load it also `docker load`s them. Same inputs, same digests.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/awf-dev/awf/internal/ociimage"
)

func main() {
	awf := flag.String("awf", "awf", "the static awf binary")
	hc := flag.String("healthcheck", "", "the static awf-healthcheck binary")
	ca := flag.String("ca", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to include (\"\" for none)")
	out := flag.String("out", "images", "output directory")
	tag := flag.String("tag", "dev", "image tag")
	load := flag.Bool("load", false, "docker load the tarballs")
	flag.Parse()
	if err := run(*awf, *hc, *ca, *out, *tag, *load); err != nil {
		fmt.Fprintln(os.Stderr, "awf-images:", err)
		os.Exit(1)
	}
}

func run(awf, hc, ca, out, tag string, load bool) error {
	in := ociimage.Inputs{Tag: tag, SourceDate: time.Unix(0, 0).UTC()}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
		}
		in.SourceDate = time.Unix(n, 0).UTC()
	}
	var err error
	if in.AWF, err = os.ReadFile(awf); err != nil {
		return err
	}
	if in.Healthcheck, err = os.ReadFile(hc); err != nil {
		return err
	}
	if ca != "" {
		if in.CABundle, err = os.ReadFile(ca); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, im := range in.Images() {
		var buf bytes.Buffer
		res, err := im.Write(&buf)
		if err != nil {
			return err
		}
		name := strings.NewReplacer("/", "-", ":", "-").Replace(im.RepoTag) + ".tar"
		p := filepath.Join(out, name)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Printf("%-24s %s  id %s  manifest %s  %.1f MB\n", im.RepoTag, p, res.ConfigDigest, res.ManifestDigest, float64(res.Size)/1e6)
		if load {
			cmd := exec.Command("docker", "load", "-i", p)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("docker load %s: %w", p, err)
			}
		}
	}
	return nil
}
