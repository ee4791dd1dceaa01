#!/bin/sh
# Private CNN inference with the parties as separate processes on
# 127.0.0.1: the miniature of tests/lang/crypto/smpc_cnn_small.he (no data)
# through scripts/run_parties.sh, party 0 getting the same predictions as
# the plaintext network and party 1 nothing; then scripts/mnist_smpc.he on
# 2 MNIST test images with seeded random weights, simulated and networked,
# when the MNIST data is there (else a skip line), with the dealer protocol
# and with "rep3" (3 parties, no dealer: run_parties.sh -n 3, each party's
# rounds and bytes as in the simulated run). Prints ok / not ok lines.
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

# --- the same under rep3: three parties, no dealer ---
"$HE" scripts/mnist_smpc.he 2 "$tmp/w" rep3 >"$tmp/sim3" 2>&1
rc=$?
if [ "$rc" = 0 ] && grep -q '^agreement with the plaintext model: 2/2$' "$tmp/sim3" &&
    grep -q '^per image: rounds [0-9]*, bytes sent: party 0 .*, party 2 .*, dealer 0 B$' "$tmp/sim3"; then ok sim_mnist_smpc_rep3
else nok sim_mnist_smpc_rep3 "exit $rc: $(tail -c 400 "$tmp/sim3")"; fi
sh scripts/run_parties.sh -n 3 scripts/mnist_smpc.he 2 "$tmp/w" rep3 >"$tmp/net3" 2>&1
rc=$?
n=$(grep -c '^agreement with the plaintext model: 2/2$' "$tmp/net3")
if [ "$rc" = 0 ] && [ "$n" = 1 ] && grep -q '^== party 2 (exit 0)$' "$tmp/net3" && grep -q '^== dealer (exit 0)$' "$tmp/net3"
then ok net_mnist_smpc_rep3
else nok net_mnist_smpc_rep3 "exit $rc, $n agreement lines: $(tail -c 400 "$tmp/net3")"; fi
# each process counts its own traffic: party p's rounds and bytes per image
# are those of party p in the simulated run
sim=$(sed -n 's/^per image: //p' "$tmp/sim3")
for p in 0 1 2; do
    got=$(sed -n "/^== party $p /,/^== /s/^per image: //p" "$tmp/net3")
    want="$(echo "$sim" | sed 's/, bytes sent: .*//'), bytes sent: $(echo "$sim" | sed -n "s/.*\(party $p [0-9.]* [kMG]*B\).*/\1/p")"
    if [ -n "$got" ] && [ "$got" = "$want" ]; then ok "net_mnist_smpc_rep3_party${p}_traffic"
    else nok "net_mnist_smpc_rep3_party${p}_traffic" "'$got' vs '$want'"; fi
done
sh scripts/run_parties.sh -n 3 scripts/mnist_smpc.he 2 "$tmp/w" fused rep3 >"$tmp/net3f" 2>&1
rc=$?
n=$(grep -c '^agreement with the plaintext model: 2/2$' "$tmp/net3f")
if [ "$rc" = 0 ] && [ "$n" = 1 ]; then ok net_mnist_smpc_rep3_fused
else nok net_mnist_smpc_rep3_fused "exit $rc, $n agreement lines: $(tail -c 400 "$tmp/net3f")"; fi
"$HE" scripts/mnist_smpc.he 1 "$tmp/w" rep4 >"$tmp/bad" 2>&1
rc=$?
if [ "$rc" != 0 ] && grep -q "unknown option 'rep4' (fused, rep3)" "$tmp/bad"; then ok mnist_smpc_unknown_option
else nok mnist_smpc_unknown_option "exit $rc: $(tail -c 300 "$tmp/bad")"; fi
