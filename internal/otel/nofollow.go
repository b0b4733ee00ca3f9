package otel

import "syscall"

// syscallNoFollow: the log directory is awf's own, but a planted symlink
// must never redirect root's writes.
const syscallNoFollow = syscall.O_NOFOLLOW
