#!/bin/bash
# Runs the original's tests/integration suite (gh-aw-firewall) against awf.
#
#   compat/original-integration/run.sh [ORIGINAL_CHECKOUT] [-- JEST_ARGS...]
#
# ORIGINAL_CHECKOUT defaults to HEAD of the mirror (MIRROR). Nothing of the
# original is changed or committed: its tests/, package.json and tsconfig
# are copied into a stage dir (STAGE, default /var/tmp/awf-original-integration),
# and we add only our files there: dist/cli.js (the path the original's
# runner starts with `node`, here a shim that runs our awf binary), a
# jest config that extends theirs, and node_modules with the test tools
# at the versions their package-lock pins (our package.json/-lock).
#
# The suite runs under fakenet: a private network and mount namespace with
# a fake internet (any name resolves, any Host/SNI answered over HTTP and
# HTTPS with a test CA trusted only there), a private tmpfs on /tmp (their
# cleanup deletes /tmp/awf-*) and a `docker` that refuses (their cleanup
# prunes containers and networks). Results: $STAGE/results.json, and
# RESULTS.md regenerated from it (report.js, reasons in reasons.json).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
MIRROR=${MIRROR:-/work/.mirror/github+gh-aw-firewall/repo}
STAGE=${STAGE:-/var/tmp/awf-original-integration}
ORIG_SRC=""
if [[ $# -gt 0 && $1 != -- ]]; then ORIG_SRC=$1; shift; fi
[[ ${1:-} == -- ]] && shift
JEST_ARGS=("$@")

if [[ $(id -u) != 0 ]]; then
  echo "run.sh: needs root (network namespaces; awf itself)" >&2
  exit 2
fi

mkdir -p "$STAGE"
ORIG=$STAGE/orig
rm -rf "$ORIG"
mkdir -p "$ORIG"
if [[ -n $ORIG_SRC ]]; then
  (cd "$ORIG_SRC" && tar -c tests package.json tsconfig.json) | tar -x -C "$ORIG"
  REV=$(git -C "$ORIG_SRC" rev-parse HEAD 2>/dev/null || echo "checkout $ORIG_SRC")
else
  [[ -d $MIRROR ]] || { echo "run.sh: no original checkout given and no mirror at $MIRROR" >&2; exit 2; }
  git -C "$MIRROR" archive HEAD tests package.json tsconfig.json | tar -x -C "$ORIG"
  REV=$(git -C "$MIRROR" rev-parse HEAD)
fi
echo "original: $REV" >&2

# Test tools, installed once per lock file.
DEPS=$STAGE/deps
if ! cmp -s "$HERE/package-lock.json" "$DEPS/package-lock.json" || [[ ! -d $DEPS/node_modules ]]; then
  rm -rf "$DEPS" && mkdir -p "$DEPS"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$DEPS/"
  (cd "$DEPS" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi
ln -sfn "$DEPS/node_modules" "$ORIG/node_modules"

# awf, built from this checkout (into the stage: never over ./awf).
make -s -C "$REPO" oneshot/one-shot-token.so >&2
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -o "$STAGE/bin/awf" ./cmd/awf)
(cd "$REPO" && go build -o "$STAGE/bin/fakenet" ./compat/original-integration/fakenet)

mkdir -p "$ORIG/dist"
sed "s#@AWF@#$STAGE/bin/awf#" "$HERE/cli-shim.js" >"$ORIG/dist/cli.js"
cat >"$STAGE/jest.config.js" <<EOF
// Theirs, with rootDir made absolute (the config is loaded from here).
const base = require('$ORIG/tests/setup/jest.integration.config.js');
module.exports = { ...base, rootDir: '$ORIG/tests/setup' };
EOF
printf '#!/bin/sh\necho "docker: no Docker engine inside the awf original-suite harness" >&2\nexit 1\n' >"$STAGE/bin/docker"
chmod 755 "$STAGE/bin/docker"

BINDS=()
for d in /usr/local/bin/docker /usr/bin/docker; do
  [[ -e $d ]] && BINDS+=(-bind "$STAGE/bin/docker:$d")
done

# The suite runs as a non-root user with passwordless sudo, as on the
# original's CI runners (and as gh-aw runs awf): `run()` starts awf as that
# user (awf re-executes itself through `sudo -n -E`), `runWithSudo()` uses
# sudo itself, and the command runs as that user, owning the files the
# tests create. The user exists only inside the mount namespace: passwd,
# group and sudoers are private copies bound over the host's.
RUN_UID=${RUN_UID:-1001}
while getent passwd "$RUN_UID" >/dev/null; do RUN_UID=$((RUN_UID + 1)); done
ETC=$STAGE/etc && rm -rf "$ETC" && mkdir -p "$ETC"
HOMEDIR=$STAGE/home/runner && rm -rf "$HOMEDIR" && mkdir -p "$HOMEDIR"
chown "$RUN_UID:$RUN_UID" "$HOMEDIR"
{ cat /etc/passwd; echo "runner:x:$RUN_UID:$RUN_UID:awf original-suite runner:$HOMEDIR:/bin/bash"; } >"$ETC/passwd"
{ cat /etc/group; echo "runner:x:$RUN_UID:"; } >"$ETC/group"
# (sudo's PAM account check wants a shadow entry: "*" = no password, not locked)
{ cat /etc/shadow; echo "runner:*:19000:0:99999:7:::"; } >"$ETC/shadow"
{ cat /etc/sudoers; echo "runner ALL=(ALL) NOPASSWD:ALL"; } >"$ETC/sudoers"
chmod 644 "$ETC/passwd" "$ETC/group" && chmod 440 "$ETC/sudoers" && chmod 640 "$ETC/shadow"
chgrp --reference=/etc/shadow "$ETC/shadow"
BINDS+=(-bind "$ETC/passwd:/etc/passwd" -bind "$ETC/group:/etc/group" -bind "$ETC/shadow:/etc/shadow" -bind "$ETC/sudoers:/etc/sudoers")
OUT=$STAGE/out && rm -rf "$OUT" && mkdir -p "$OUT" && chown "$RUN_UID:$RUN_UID" "$OUT"

rm -rf "$STAGE/net" && mkdir -p "$STAGE/net"
set +e
(cd "$ORIG" && "$STAGE/bin/fakenet" -dir "$STAGE/net" -private-tmp "${BINDS[@]}" -- \
  setpriv --reuid "$RUN_UID" --regid "$RUN_UID" --init-groups \
  env HOME="$HOMEDIR" USER=runner LOGNAME=runner \
  node "$DEPS/node_modules/jest/bin/jest.js" --config "$STAGE/jest.config.js" --ci \
  --json --outputFile "$OUT/results.json" "${JEST_ARGS[@]}")
rc=$?
set -e
cp "$OUT/results.json" "$STAGE/results.json" 2>/dev/null || rm -f "$STAGE/results.json"
if [[ -s $STAGE/results.json ]]; then
  node "$HERE/report.js" "$STAGE/results.json" "$HERE/reasons.json" "$REV" >"${RESULTS_MD:-$HERE/RESULTS.md}"
  echo "wrote ${RESULTS_MD:-$HERE/RESULTS.md}" >&2
fi
exit $rc
