#!/bin/sh
# run_parties.sh: runs a .he script with its SMPC parties as separate
# processes on 127.0.0.1: makes a fresh folder with one CURVE key per party
# and for the dealer and a party file on free loopback ports
# (smpc.local_parties), starts the dealer and parties 0..N-1 in the
# background as `he --party I --parties FILE script.he args...`, waits for
# them all and prints each one's exit status and output.
#
#   scripts/run_parties.sh [-n N] script.he [args...]
#
# N (the number of computing parties) defaults to the first
# `smpc.context(N` in the script. Environment: HE (the interpreter, default
# build/he), KEEP=1 keeps the folder (keys, party file, outputs).
# Exit status: 0 when every process exited with 0, else 1 (2: usage).
HE=${HE:-build/he}
n=
if [ "$1" = "-n" ]; then n=$2; shift 2; fi
if [ $# -lt 1 ] || [ ! -f "$1" ]; then
    echo "usage: $0 [-n N] script.he [args...]" >&2
    exit 2
fi
script=$1; shift
if [ -z "$n" ]; then
    n=$(sed -n 's/.*smpc\.context(\([0-9][0-9]*\).*/\1/p' "$script" | head -1)
    if [ -z "$n" ]; then echo "$0: cannot find smpc.context(N in $script: give -n N" >&2; exit 2; fi
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/he-parties.XXXXXX") || exit 1
[ -n "$KEEP" ] || trap 'rm -rf "$dir"' EXIT
"$HE" -e "import smpc
smpc.local_parties(\"$dir\", $n)" || { echo "$0: cannot make the party file" >&2; exit 1; }

"$HE" --party dealer --parties "$dir/parties" "$script" "$@" >"$dir/dealer.out" 2>&1 &
pids=$!
i=0
while [ "$i" -lt "$n" ]; do
    "$HE" --party "$i" --parties "$dir/parties" "$script" "$@" >"$dir/party-$i.out" 2>&1 &
    pids="$pids $!"
    i=$((i + 1))
done

status=0
i=-1
for p in $pids; do
    wait "$p"; rc=$?
    if [ "$i" -lt 0 ]; then name=dealer; out="$dir/dealer.out"; else name="party $i"; out="$dir/party-$i.out"; fi
    echo "== $name (exit $rc)"
    cat "$out"
    [ "$rc" -eq 0 ] || status=1
    i=$((i + 1))
done
[ -n "$KEEP" ] && echo "(files kept in $dir)"
exit $status
