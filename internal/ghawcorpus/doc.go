// Package ghawcorpus runs real gh-aw invocations (internal/config/testdata/
// ghaw-corpus.json: flags, --config documents and step environments copied
// from public lock files) through the real awf binary in the private test
// network, shaped as gh-aw runs them: one shell string after `--`, output
// piped to `tee` under `set -o pipefail`. It holds tests only.
package ghawcorpus
