// Package domains is the allowlist language: it parses, validates and
// compiles --allow-domains / --block-domains entries and decides, per host
// name and protocol, whether a connection may proceed, naming the rule of
// the original's policy manifest that decided. It is pure: no I/O except
// ReadFile. See README.md for the language and how it differs from the
// original.
package domains
