// Package deploy holds the container deployment of awf (compose.yaml, the
// Kubernetes pod spec in k8s/) and the tests that run them on a real
// Docker engine. Images come from internal/ociimage (`make images`).
package deploy
