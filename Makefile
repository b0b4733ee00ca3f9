# awf build and test entry points. `make` builds ./awf; `sudo make test`
# runs the whole suite (end-to-end tests need root: they create network
# namespaces, nftables rules and cgroups, all private to the test).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
SO      := oneshot/one-shot-token.so

.PHONY: build test test-clients bench-apiproxy bench-egress clean

build: $(SO)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o awf ./cmd/awf

# The LD_PRELOAD library is C and is embedded into the Go binary.
$(SO): $(wildcard oneshot/*.c) $(wildcard oneshot/Makefile)
	$(MAKE) -C oneshot

test: $(SO)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...

bench-apiproxy:
	$(GO) test -tags bench -run Report -v -count=1 ./bench/apiproxy

clean:
	rm -f awf $(SO)
