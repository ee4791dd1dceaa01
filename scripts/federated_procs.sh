#!/bin/sh
# federated_procs.sh: scripts/federated.he with its roles as separate
# processes that exchange files in a fresh shared folder: the model owner
# makes the Paillier key pair (the secret half stays in its file, mode
# 0600), then each round the data owners (in parallel) write their
# encrypted gradients, the aggregator adds them with the public key only,
# and the model owner decrypts the sum and steps the weights. Prints the
# model owner's lines: the same losses and weights as the one-process run
# `build/he scripts/federated.he [rounds]`.
#
#   scripts/federated_procs.sh [rounds]
#
# Environment: HE (the interpreter, default build/he), KEEP=1 keeps the
# folder (keys, ciphertexts, weights). Exit status: 0, or 1 when a process
# failed (its output is shown).
HE=${HE:-build/he}
script=$(dirname "$0")/federated.he
rounds=${1:-20}
case $rounds in ''|*[!0-9]*) echo "usage: $0 [rounds]" >&2; exit 2 ;; esac
dir=$(mktemp -d "${TMPDIR:-/tmp}/he-federated.XXXXXX") || exit 1
[ -n "$KEEP" ] || trap 'rm -rf "$dir"' EXIT

# role NAME ARGS...: one process; its output to $dir/NAME.out
role() {
    name=$1; shift
    "$HE" "$script" "$rounds" "$@" >"$dir/$name.out" 2>&1
}
failed() { echo "$0: $1 failed:" >&2; cat "$dir/$1.out" >&2; exit 1; }

owners=$("$HE" "$script" "$rounds" owners "$dir") || { echo "$0: cannot run $script" >&2; exit 1; }
role setup setup "$dir" || failed setup
echo "model owner: Paillier key made; data owners and aggregator see only $dir/public.key"
r=0
while [ "$r" -lt "$rounds" ]; do
    pids=
    o=0
    while [ "$o" -lt "$owners" ]; do
        role "owner-$o" owner "$dir" "$o" &
        pids="$pids $!"
        o=$((o + 1))
    done
    o=0
    for p in $pids; do
        wait "$p" || failed "owner-$o"
        o=$((o + 1))
    done
    role aggregate aggregate "$dir" || failed aggregate
    role update update "$dir" "$r" || failed update
    cat "$dir/update.out"
    r=$((r + 1))
done
