package cliproxy

// WrapperPath is where the sandbox gets the agent's gh: /.awf/bin is laid
// over /usr/local/bin, so it shadows any gh later on PATH, as the
// original's /usr/local/bin/gh.
const WrapperPath = "/.awf/bin/gh"

// Wrapper is the agent's gh: it posts its arguments, working directory and
// stdin to the CLI proxy and replays gh's stdout, stderr and exit code.
// It needs curl, jq and base64, as the original's (GitHub runners have
// them). Arguments are encoded one by one with jq --arg, so none is ever
// read as a jq option and newlines survive; output is written byte for
// byte (jq -j), trailing newlines included.
const Wrapper = `#!/bin/sh
# awf: gh through the CLI proxy (the GitHub token stays outside the sandbox).
proxy="${AWF_CLI_PROXY_URL:-http://172.30.0.50:11000}"
for tool in curl jq base64; do
  command -v "$tool" >/dev/null 2>&1 || { echo "gh: awf's gh wrapper needs $tool" >&2; exit 1; }
done
tmp=$(mktemp -d 2>/dev/null || mktemp -d /tmp/awf-gh.XXXXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
args='[' sep=''
for a in "$@"; do
  args="$args$sep$(jq -n --arg a "$a" '$a')" sep=','
done
args="$args]"
: > "$tmp/stdin"
[ -t 0 ] || base64 -w0 > "$tmp/stdin"
jq -n --argjson args "$args" --arg cwd "$(pwd)" --rawfile stdin "$tmp/stdin" \
  '{args: $args, cwd: $cwd, stdin: $stdin}' > "$tmp/req" || exit 1
status=$(curl -s --noproxy '*' --max-time 60 -o "$tmp/resp" -w '%{http_code}' \
  -X POST -H 'Content-Type: application/json' --data-binary "@$tmp/req" "$proxy/exec")
rc=$?
if [ "$rc" -ne 0 ]; then
  echo "gh: CLI proxy unavailable at $proxy (curl exit $rc)" >&2
  exit 1
fi
if [ "$status" != 200 ]; then
  msg=$(jq -r '.error // empty' "$tmp/resp" 2>/dev/null)
  echo "gh: ${msg:-CLI proxy returned HTTP $status}" >&2
  exit 1
fi
jq -j '.stdout // ""' "$tmp/resp"
jq -j '.stderr // ""' "$tmp/resp" >&2
code=$(jq -r '.exitCode // 1' "$tmp/resp")
exit "${code:-1}"
`
