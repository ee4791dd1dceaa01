#!/bin/sh
# Training on shares with the parties as separate processes on 127.0.0.1
# (scripts/mnist_smpc_train.he through scripts/run_parties.sh): two batches
# of 128 MNIST training images, under the dealer protocol (2 parties + the
# dealer) and under rep3 (3 parties, no dealer). Every process exits 0;
# only the model owner (party 1) gets the weights (prints the accuracy and
# saves them); the weights it saved are those of the same two SGD steps in
# plaintext from the same initial weights (stdlib/secure_mlp.he,
# plain_step) within 0.01 everywhere and 2e-4 on average (measured: below
# 2e-3 and 4e-5: fixed point's rounding, 1 ulp = 2^-16 per operation, and
# the odd ReLU whose input lies within that of 0 taking the other
# derivative, which moves a column of the first layer's gradient by up to
# |x| |e| 2^-9). Skips when the MNIST data is not there. Prints ok / not ok
# lines.
HE=${HE:-build/he}
export HE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok $1"; }
nok() { echo "not ok $1: $2"; }

if ! "$HE" -e 'import data
let x = data.mnist("train", 0, 1)' >/dev/null 2>&1; then
    echo "skip net_smpc_train: the MNIST data is not found (make data)"
    exit 0
fi

# the reference: the same two steps in plaintext
mkdir "$tmp/plain"
"$HE" -e "import data
import secure_mlp as net
net.init(2019, 784, 128, 10)
let X = reshape(data.mnist(\"train\", 0, 256), [256, 784])
let y = data.mnist_labels(\"train\", 0, 256)
for b in 0..2 { net.plain_step(X[b * 128:(b + 1) * 128], one_hot(y[b * 128:(b + 1) * 128], 10), 9) }
net.save(\"$tmp/plain\")" || { nok net_smpc_train "cannot train the plaintext reference"; exit 0; }

for proto in dealer rep3; do
    n=2
    [ "$proto" = rep3 ] && n=3
    mkdir "$tmp/$proto"
    sh scripts/run_parties.sh -n $n scripts/mnist_smpc_train.he $proto 256 1 "$tmp/$proto" >"$tmp/$proto.out" 2>&1
    rc=$?
    last=$((n - 1))
    exits=$(grep -c '^== .* (exit 0)$' "$tmp/$proto.out")
    if [ "$rc" = 0 ] && [ "$exits" = $((n + 1)) ] &&
        grep -q '^one batch: rounds [0-9]*, bytes sent: party 0 ' "$tmp/$proto.out" &&
        grep -q '^time per batch: median [0-9.]* ms' "$tmp/$proto.out"; then ok "net_smpc_train_$proto"
    else nok "net_smpc_train_$proto" "exit $rc, $exits processes exited 0: $(tail -c 600 "$tmp/$proto.out")"; fi
    # only party 1 (the model owner) learns the weights
    owner=$(sed -n '/^== party 1 /,/^== party 2 /p' "$tmp/$proto.out" | grep -c '^weights saved in\|^accuracy: ')
    all=$(grep -c '^weights saved in\|^accuracy: ' "$tmp/$proto.out")
    if [ "$owner" = 2 ] && [ "$all" = 2 ]; then ok "net_smpc_train_${proto}_owner_only"
    else nok "net_smpc_train_${proto}_owner_only" "party 1: $owner lines, all: $all"; fi
    d=$("$HE" -e "fn diff(f: str) -> float[?] { return abs(reshape(load_npy(\"$tmp/$proto/\" + f) - load_npy(\"$tmp/plain/\" + f), [-1])) }
let w = concat(concat(diff(\"w1.npy\"), diff(\"w2.npy\")), diff(\"w3.npy\"))
let b = concat(concat(diff(\"b1.npy\"), diff(\"b2.npy\")), diff(\"b3.npy\"))
print(max(max(w), max(b)) < 0.01 and mean(w) < 0.0002, max(max(w), max(b)), mean(w))" 2>&1)
    case "$d" in
    true*) ok "net_smpc_train_${proto}_as_plaintext"; echo "# $d" ;;
    *) nok "net_smpc_train_${proto}_as_plaintext" "largest and mean weight difference: $d" ;;
    esac
done
