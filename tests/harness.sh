# harness.sh - what every tests/cli_*.sh starts with, sourced as `. harness.sh "$@"`: the
# arguments (CLSEG_BINARY SOURCE_DIR), a scratch directory removed on exit, and the counters.
# ok [WHAT]: a check passed (WHAT is printed when given); bad WHAT: a check failed;
# finish: prints the counts and returns non-zero when a check failed (the script's last line);
# expect RC NAME OUTFILE CMD...: a refusal with exit status RC, one stderr line, no OUTFILE.
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

# expect RC NAME OUTFILE CMD...: exit status RC, one stderr line, no OUTFILE (and no temporary)
expect() {
    local want=$1 name=$2 out=$3
    shift 3
    "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    local rc=$? lines
    lines=$(grep -c . "$tmp/stderr")
    if [ $rc -ne "$want" ]; then
        bad "$name: exit $rc, not $want"; cat "$tmp/stderr" >&2
    elif [ "$lines" -ne 1 ]; then
        bad "$name: expected one line on stderr, got $lines"; cat "$tmp/stderr" >&2
    elif ls "$out"* >/dev/null 2>&1; then
        bad "$name: left an output file"
    else
        ok "$name: $(cat "$tmp/stderr")"
    fi
}
