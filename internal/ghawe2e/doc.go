// Package ghawe2e runs the real awf binary the way GitHub Agentic Workflows
// and the original awf's integration tests do, in the private test network,
// and checks what they read afterwards: stderr lines, the work-dir
// contract, and the files under the logs and audit dirs. It holds tests
// only.
package ghawe2e
