#!/usr/bin/env bash
# api_example.sh - the public-API example program segments a frame, and an installed clseg works
# for a consumer through CMake's find_package and through pkg-config.
# usage: api_example.sh CLSEG_BINARY EXAMPLE_BINARY SOURCE_DIR BUILD_DIR
set -u
clseg=$1 example=$2 src=$3 build=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { if "$@" >"$tmp/log" 2>&1; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $*" >&2; cat "$tmp/log" >&2; fi; }

check "$clseg" init --spec "$src/tests/fixtures/cli/tiny.cfg" --classes 12 --out "$tmp/tiny.clsm"
check "$example" "$tmp/tiny.clsm" 33 17
grep -q "33x17 on" "$tmp/log" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: example output" >&2; }
# a PNG in, its colour-coded label map out, through clseg_image.h
check "$example" "$tmp/tiny.clsm" "$src/models/samples/camvid_0016E5_08085.png" "$tmp/example_seg.png"
grep -q "480x360 on" "$tmp/log" && [ -s "$tmp/example_seg.png" ] && pass=$((pass + 1)) ||
    { fail=$((fail + 1)); echo "FAIL: example PNG output" >&2; }
check "$clseg" segment --model "$tmp/tiny.clsm" -o "$tmp/cli_seg.png" "$src/models/samples/camvid_0016E5_08085.png"
cmp -s "$tmp/example_seg.png" "$tmp/cli_seg.png" && pass=$((pass + 1)) ||
    { fail=$((fail + 1)); echo "FAIL: the example's label map differs from clseg segment's" >&2; }

# install into a prefix and build the example as an outside project would
check cmake --install "$build" --prefix "$tmp/prefix"
for f in include/clseg.h include/clseg_image.h bin/clseg lib/cmake/clseg/clsegConfig.cmake lib/pkgconfig/clseg.pc; do
    [ -e "$tmp/prefix/$f" ] || [ -e "$tmp/prefix/${f/lib\//lib/x86_64-linux-gnu/}" ] && pass=$((pass + 1)) ||
        { fail=$((fail + 1)); echo "FAIL: not installed: $f" >&2; }
done
mkdir -p "$tmp/consumer"
cat >"$tmp/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(clseg REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE clseg::clseg)
CMAKE
cp "$src/docs/examples/segment_example.c" "$tmp/consumer/main.c"
check cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$tmp/prefix"
check cmake --build "$tmp/consumer/build"
check "$tmp/consumer/build/consumer" "$tmp/tiny.clsm" 16 8
pc=$(find "$tmp/prefix" -name clseg.pc -printf '%h')
if command -v pkg-config >/dev/null; then
    check bash -c "cc -o '$tmp/pc_consumer' '$src/docs/examples/segment_example.c' \$(PKG_CONFIG_PATH='$pc' pkg-config --cflags --libs --static clseg)"
    check "$tmp/pc_consumer" "$tmp/tiny.clsm" 8 8
fi
echo "api_example: $pass passed, $fail failed"
[ $fail -eq 0 ]
