#!/bin/sh
# load_npy on .npy files whose empty arrays carry huge dimensions (the fuzz
# inputs of issue 9), written here into $TMPDIR: refused with a message
# naming the file, never a crash or a huge allocation. Prints ok / not ok.
HE=${HE:-build/he}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# npy FILE HEADER: a version 1.0 file with that header and no data
npy() {
    h=$2
    while [ $(( (10 + ${#h} + 1) % 64 )) -ne 0 ]; do h="$h "; done
    n=$((${#h} + 1))
    printf '\223NUMPY\001\000' >"$1"
    printf "\\$(printf %03o $((n % 256)))\\$(printf %03o $((n / 256)))" >>"$1"
    printf '%s\n' "$h" >>"$1"
}
printf 'let t = load_npy(argv(0))\nprint(t.shape, t)\n' >"$tmp/load.he"
t() { # name, shape, expected status, text expected on stdout or stderr
    npy "$tmp/$1.npy" "{'descr': '<f8', 'fortran_order': False, 'shape': ($2), }"
    "$HE" "$tmp/load.he" "$tmp/$1.npy" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" != "$3" ]; then echo "not ok $1: exit $rc, want $3 ($(head -c 300 "$tmp/err"))"
    elif ! cat "$tmp/out" "$tmp/err" | grep -qF -- "$4"; then echo "not ok $1: '$4' not in $(head -c 300 "$tmp/err")"
    else echo "ok $1"; fi
}
t huge_int64 "0, 9223372036854775807, 9223372036854775807" 1 "$tmp/huge_int64.npy: tensor shape [0, 9223372036854775807, 9223372036854775807] is too large"
t huge_2_32 "0, 4294967296, 4294967296" 1 "is too large"
t huge_first "4611686018427387904, 0" 1 "is too large"
t at_bound "0, 16777216, 16777216" 0 "[0, 16777216, 16777216] []"
t empty "0," 0 "[0] []"
