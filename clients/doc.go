// Package clients proves that the official LLM SDKs and agent CLIs, pinned
// in package.json and installed with `npm ci`, work unchanged inside awf:
// each runs in `awf --enable-api-proxy` against a fake upstream
// (internal/fakeprovider) on the private test network. See README.md.
package clients
