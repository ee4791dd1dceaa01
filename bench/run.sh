#!/bin/sh
# Runs one benchmark group: every program built from bench/GROUP/*.c, then
# bench/GROUP/run.sh when present. Each figure is one line
#   bench NAME VALUE UNIT
# with ratios against the reference run printed beside it.
g=$1
BUILD=${BUILD:-build}
[ -d "bench/$g" ] || { echo "bench: no group '$g' (have: $(ls bench | grep -v '\.sh$' | tr '\n' ' '))" >&2; exit 2; }
echo "== bench $g"
for b in "$BUILD"/bench/"$g"/*; do
    [ -x "$b" ] || continue
    "$b" || exit 1
done
if [ -f "bench/$g/run.sh" ]; then bash "bench/$g/run.sh" || exit 1; fi
