# harness.sh - what every tests/cli_*.sh starts with, sourced as `. harness.sh "$@"`: the
# arguments (CLSEG_BINARY SOURCE_DIR), a scratch directory removed on exit, and the counters.
# ok [WHAT]: a check passed (WHAT is printed when given); bad WHAT: a check failed;
# finish: prints the counts and returns non-zero when a check failed (the script's last line).
set -u
clseg=$1
src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() {
    pass=$((pass + 1))
    [ $# -eq 0 ] || echo "ok   $*"
}
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*" >&2
}
finish() {
    echo "$(basename "$0" .sh): $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
