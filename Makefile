# awf build and test entry points. `make` builds ./awf; `sudo make test`
# runs the whole suite (end-to-end tests need root: they create network
# namespaces, nftables rules and cgroups, all private to the test).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
SO      := oneshot/one-shot-token.so

.PHONY: build test test-clients bench-apiproxy bench-egress bench-inspect clean images

build: $(SO)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o awf ./cmd/awf

# The LD_PRELOAD library is C and is embedded into the Go binary.
$(SO): $(wildcard oneshot/csrc/*.c) oneshot/Makefile oneshot/one-shot-token.sym
	$(MAKE) -C oneshot

test: $(SO)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...

# The real-client suite (clients/) needs its npm packages; without them
# `make test` skips it with a message (CI installs them and fails instead).
clients/node_modules: clients/package-lock.json
	cd clients && npm ci --no-audit --no-fund

test-clients: $(SO) clients/node_modules
	$(GO) test -count=1 -timeout 10m -v ./clients/

# OCI images (api-proxy sidecar, egress proxy, awf) as digest-stable
# tarballs in images/, loaded into docker (deploy/README.md).
images: build
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o images/awf-healthcheck ./cmd/awf-healthcheck
	$(GO) run ./cmd/awf-images -awf awf -healthcheck images/awf-healthcheck -out images -tag $(or $(TAG),dev) -load

bench-apiproxy:
	$(GO) test -tags bench -run Report -v -count=1 ./bench/apiproxy

# TLS inspection vs tunnelling, requests/s at c=64 (root: private netns).
bench-inspect:
	$(GO) run ./bench/inspect

clean:
	rm -f awf $(SO)
