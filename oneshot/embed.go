// Package oneshot carries the one-shot-token LD_PRELOAD library (C source
// in csrc/one-shot-token.c, built by `make -C oneshot`) for the sandbox to
// install and preload for the command.
package oneshot

import "embed"

// one-shot-token.* always matches the committed linker script, so the
// package builds (with an empty Library) where the library is not built.
//
//go:embed one-shot-token.* csrc/one-shot-token.c
var files embed.FS

// Library is the built one-shot-token.so, or nil when the build did not
// produce it (run `make -C oneshot` before `go build`).
var Library []byte

// Source is the library's C source.
var Source []byte

// InstallName is the file name the sandbox gives the library.
const InstallName = "one-shot-token.so"

func init() {
	Library, _ = files.ReadFile("one-shot-token.so")
	Source, _ = files.ReadFile("csrc/one-shot-token.c")
}
