#!/bin/sh
# Private CNN inference with the parties as separate processes on
# 127.0.0.1: the miniature of tests/lang/crypto/smpc_cnn_small.he (no data)
# through scripts/run_parties.sh, party 0 getting the same predictions as
# the plaintext network and party 1 nothing; then scripts/mnist_smpc.he on
# 2 MNIST test images with seeded random weights, simulated and networked,
# when the MNIST data is there (else a skip line). Prints ok / not ok lines.
HE=${HE:-build/he}
export HE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok $1"; }
nok() { echo "not ok $1: $2"; }

sh scripts/run_parties.sh tests/lang/crypto/smpc_cnn_small.he >"$tmp/small" 2>&1
rc=$?
sed -n '/^== party 0/,/^== party 1/p' "$tmp/small" >"$tmp/p0"
sed -n '/^== party 1/,$p' "$tmp/small" >"$tmp/p1"
if [ "$rc" = 0 ] && grep -q '^agreement with the plaintext network: 6/6$' "$tmp/p0" &&
    grep -q '^largest logit error below 1e-3: true$' "$tmp/p0"; then ok net_cnn_small_party0
else nok net_cnn_small_party0 "exit $rc: $(tail -c 400 "$tmp/small")"; fi
if grep -q 'prediction' "$tmp/p1"; then nok net_cnn_small_party1_learns_nothing "party 1 printed predictions"
else ok net_cnn_small_party1_learns_nothing; fi

if ! "$HE" -e 'import data
let x = data.mnist("t10k", 0, 2)' >/dev/null 2>&1; then
    echo "skip net_mnist_smpc: the MNIST data is not found (make data)"
    exit 0
fi
mkdir "$tmp/w"
"$HE" -e "import keras_cnn
keras_cnn.init(5)
keras_cnn.save(\"$tmp/w\")" || { nok net_mnist_smpc "cannot write random weights"; exit 0; }
"$HE" scripts/mnist_smpc.he 2 "$tmp/w" >"$tmp/sim" 2>&1
rc=$?
if [ "$rc" = 0 ] && grep -q '^agreement with the plaintext model: 2/2$' "$tmp/sim"; then ok sim_mnist_smpc
else nok sim_mnist_smpc "exit $rc: $(tail -c 400 "$tmp/sim")"; fi
sh scripts/run_parties.sh scripts/mnist_smpc.he 2 "$tmp/w" fused >"$tmp/net" 2>&1
rc=$?
n=$(grep -c '^agreement with the plaintext model: 2/2$' "$tmp/net")
if [ "$rc" = 0 ] && [ "$n" = 1 ]; then ok net_mnist_smpc_fused
else nok net_mnist_smpc_fused "exit $rc, $n agreement lines: $(tail -c 400 "$tmp/net")"; fi
