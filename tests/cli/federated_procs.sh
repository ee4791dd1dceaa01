#!/bin/sh
# scripts/federated_procs.sh runs scripts/federated.he as separate processes
# (model owner, data owners, aggregator) exchanging key, ciphertext and
# weight files; its losses and weights are those of the one-process run.
# Also: the folder's secret key has mode 0600, the ciphertext files are
# Paillier files, and an unknown role is an error. Prints ok / not ok lines.
HE=${HE:-build/he}
export HE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rounds=3
# the model owner's lines: losses of the encrypted-gradient model, weights
pick() { sed -n 's/^\(round [0-9]* loss (encrypted gradients) [0-9.e-]*\).*/\1/p; /^weights (encrypted gradients):/p' "$1"; }
if "$HE" scripts/federated.he "$rounds" >"$tmp/one.out" 2>&1; then echo "ok federated_one_process"
else echo "not ok federated_one_process: $(head -c 300 "$tmp/one.out")"; fi
if TMPDIR=$tmp KEEP=1 sh scripts/federated_procs.sh "$rounds" >"$tmp/procs.out" 2>&1; then echo "ok federated_processes"
else echo "not ok federated_processes: $(head -c 300 "$tmp/procs.out")"; fi
pick "$tmp/one.out" >"$tmp/one.lines"
pick "$tmp/procs.out" >"$tmp/procs.lines"
n=$(wc -l <"$tmp/one.lines")
if [ "$n" -eq 3 ] && cmp -s "$tmp/one.lines" "$tmp/procs.lines"; then echo "ok federated_processes_same_result"
else echo "not ok federated_processes_same_result: $(cat "$tmp/one.lines") | $(cat "$tmp/procs.lines")"; fi
dir=$(ls -d "$tmp"/he-federated.* 2>/dev/null | head -1)
[ "$(stat -c %a "$dir/owner.key" 2>/dev/null)" = 600 ] && echo "ok federated_secret_key_0600" || echo "not ok federated_secret_key_0600: $dir"
magic=$(head -c 7 "$dir/sum.ct" 2>/dev/null)
[ "$magic" = HEPAILR ] && echo "ok federated_ciphertext_files" || echo "not ok federated_ciphertext_files: $magic"
out=$("$HE" scripts/federated.he 1 nosuch "$tmp" 2>&1)
case $out in *"unknown role nosuch"*) echo "ok federated_unknown_role" ;; *) echo "not ok federated_unknown_role: $out" ;; esac
