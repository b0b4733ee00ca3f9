package ociimage

import "time"

// Inputs are the files the awf images are made of.
type Inputs struct {
	AWF         []byte // the static awf binary
	Healthcheck []byte // cmd/awf-healthcheck, installed as curl and nc
	CABundle    []byte // PEM roots for /etc/ssl/certs/ca-certificates.crt (may be empty)
	Tag         string // image tag, e.g. "dev"
	SourceDate  time.Time
}

// The sidecars run as this unprivileged user (no login shell, no home).
const (
	SidecarUID = 10001
	sidecarU   = "10001:10001"
)

// base is the common root filesystem: users, a sticky /tmp, resolver and
// CA files, the binary and the healthcheck stand-ins.
func (in Inputs) base() []File {
	fs := []File{
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/sbin/nologin\nawf:x:10001:10001:awf:/nonexistent:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n")},
		{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:\nawf:x:10001:\nnogroup:x:65534:\n")},
		{Path: "/etc/nsswitch.conf", Mode: 0o644, Data: []byte("hosts: files dns\n")},
		{Path: "/tmp", Dir: true, Mode: 0o1777},
		{Path: "/root", Dir: true, Mode: 0o700},
		// The api-proxy's default AWF_TOKEN_LOG_DIR, writable by the sidecar user.
		{Path: "/var/log/api-proxy", Dir: true, Mode: 0o755, UID: SidecarUID, GID: SidecarUID},
		{Path: "/usr/local/bin/awf", Mode: 0o755, Data: in.AWF},
		{Path: "/usr/local/bin/awf-healthcheck", Mode: 0o755, Data: in.Healthcheck},
		{Path: "/usr/bin/curl", Linkname: "/usr/local/bin/awf-healthcheck"},
		{Path: "/usr/bin/nc", Linkname: "/usr/local/bin/awf-healthcheck"},
	}
	if len(in.CABundle) > 0 {
		fs = append(fs, File{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Data: in.CABundle})
	}
	return fs
}

// Images are the three images `make images` builds: the api-proxy sidecar,
// the egress proxy and awf itself.
func (in Inputs) Images() []Image {
	labels := func(title string) map[string]string {
		return map[string]string{"org.opencontainers.image.title": title, "org.opencontainers.image.source": "github.com/awf-dev/awf"}
	}
	env := []string{"PATH=/usr/local/bin:/usr/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	return []Image{
		{
			RepoTag: "awf/api-proxy:" + in.Tag, Files: in.base(), SourceDate: in.SourceDate,
			Entrypoint: []string{"/usr/local/bin/awf", "api-proxy"}, User: sidecarU, Env: env, WorkingDir: "/tmp",
			ExposedPorts: []string{"10000/tcp", "10001/tcp", "10002/tcp", "10003/tcp", "10004/tcp"},
			Labels:       labels("awf api-proxy sidecar"),
		},
		{
			RepoTag: "awf/egress-proxy:" + in.Tag, Files: in.base(), SourceDate: in.SourceDate,
			Entrypoint: []string{"/usr/local/bin/awf", "egress-proxy"}, Cmd: []string{"--listen", "0.0.0.0:3128"},
			User: sidecarU, Env: env, WorkingDir: "/tmp", ExposedPorts: []string{"3128/tcp"},
			Labels: labels("awf egress proxy"),
		},
		{
			// awf itself needs root (namespaces, nftables, cgroups); the
			// command it runs does not get it (see deploy/README.md).
			RepoTag: "awf/awf:" + in.Tag, Files: in.base(), SourceDate: in.SourceDate,
			Entrypoint: []string{"/usr/local/bin/awf"}, User: "0:0", Env: env, WorkingDir: "/tmp",
			Labels: labels("awf"),
		},
	}
}
