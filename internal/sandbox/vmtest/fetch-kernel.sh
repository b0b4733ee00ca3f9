#!/bin/sh
# Unpacks Debian's kernel (the package linux-image-amd64 depends on) into
# $AWF_VM_KERNEL (default /var/cache/awf-vmtest/kernel) for TestCgroupV2InVM:
# boot/vmlinuz-* and lib/modules/*. Run by .ci/run; the test never downloads.
set -eu
dir=${AWF_VM_KERNEL:-/var/cache/awf-vmtest/kernel}
[ -e "$dir/.ok" ] && exit 0
pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$pkg" ] || { echo "fetch-kernel: no linux-image-amd64 dependency found" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1)
mkdir -p "$dir"
dpkg-deb -x "$tmp"/*.deb "$dir"
touch "$dir/.ok"
echo "fetch-kernel: $pkg in $dir"
