#!/bin/sh
# Imported models on rep3 shares with the three parties as separate
# processes (ZeroMQ + CURVE on 127.0.0.1, scripts/run_parties.sh):
# tests/onnx/shares_rep3.he (the ONNX test models through model.share_run
# under smpc.context(3, "rep3"), each output within 0.01 of the plain run,
# the same argmax) prints on every party what the simulated run prints
# (tests/onnx/shares_rep3.out), and the dealer's process ends at once.
HE=${HE:-build/he}
export HE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sh scripts/run_parties.sh tests/onnx/shares_rep3.he >"$tmp/net" 2>&1
rc=$?
[ "$rc" = 0 ] && echo "ok onnx_rep3_net_exit" || echo "not ok onnx_rep3_net_exit: exit $rc: $(tail -c 300 "$tmp/net")"
grep -q '^== dealer (exit 0)$' "$tmp/net" && echo "ok onnx_rep3_no_dealer" || echo "not ok onnx_rep3_no_dealer"
for p in 0 1 2; do
    sed -n "/^== party $p/,/^== /p" "$tmp/net" | grep -v '^== ' >"$tmp/p$p"
    if cmp -s "$tmp/p$p" tests/onnx/shares_rep3.out; then echo "ok onnx_rep3_party${p}_as_simulated"
    else echo "not ok onnx_rep3_party${p}_as_simulated: $(diff "$tmp/p$p" tests/onnx/shares_rep3.out | head -c 300)"; fi
done
