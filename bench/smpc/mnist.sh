#!/bin/bash
# Private MNIST inference on secret shares (scripts/mnist_smpc.he): the seed
# texts' Keras network (conv 3x3x16, avgpool, relu, conv 3x3x32, avgpool,
# relu, conv 3x3x64, avgpool, relu, dense 10) on ONE test image, the model
# shared by party 1 and the image by party 0, the logits revealed to party 0
# only; two computing parties and the dealer as separate processes on
# loopback (scripts/run_parties.sh). Against MP-SPDZ 0.4.2, dealer protocol,
# 2 parties + dealer, loopback, the same network on one image: 154 ms and
# 7.1 MB per party (issue 5).
#
# Weights from $MNIST_CNN_DIR (default build/mnist_cnn, written by
# scripts/mnist_cnn_train.he); when they are missing, seeded random weights
# of the same shapes (the time and traffic do not depend on the values; the
# output says so). Needs the MNIST test images (make data), else skips.
# $RUNS runs of one image each (default 5): the median, and the fastest.
HE=${HE:-build/he}
DIR=${MNIST_CNN_DIR:-build/mnist_cnn}
RUNS=${RUNS:-5}
[ -x "$HE" ] || { echo "bench smpc mnist: $HE not built" >&2; exit 1; }
if ! "$HE" -e 'import data
let x = data.mnist("t10k", 0, 1)' >/dev/null 2>&1; then
    echo "# skip smpc.cnn: the MNIST data is not found (make data)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
weights="trained ($DIR)"
if [ ! -f "$DIR/dense_b.npy" ]; then
    DIR=$tmp/weights
    mkdir -p "$DIR"
    "$HE" -e "import keras_cnn
keras_cnn.init(2017)
keras_cnn.save(\"$DIR\")" || { echo "# cannot write random weights"; exit 1; }
    weights="seeded random (no trained weights in ${MNIST_CNN_DIR:-build/mnist_cnn}; time and traffic do not depend on them)"
fi
echo "# weights: $weights"
echo "# reference: MP-SPDZ 0.4.2, dealer protocol, 2 parties + dealer, loopback: 154 ms, 7.1 MB per party"

# mb VALUE UNIT -> MB
mb() { awk -v v="$1" -v u="$2" 'BEGIN { if (u == "kB") v /= 1000; else if (u == "B") v /= 1e6; else if (u == "GB") v *= 1000; printf "%.4f", v }'; }

# one variant: $1 the bench name, $2 extra argument of the script
bench_one() {
    local name=$1 extra=$2 lat=() r=0 line rounds bytes unit
    for i in $(seq "$RUNS"); do
        scripts/run_parties.sh scripts/mnist_smpc.he 1 "$DIR" $extra >"$tmp/out" 2>&1 ||
            { echo "# run_parties.sh scripts/mnist_smpc.he failed"; tail -5 "$tmp/out"; return 1; }
        # party 0's figures: the lines after '== party 0'
        sed -n '/^== party 0/,/^== party 1/p' "$tmp/out" >"$tmp/p0"
        lat+=("$(sed -n 's/^latency per image: \([0-9.]*\) ms.*/\1/p' "$tmp/p0")")
        line=$(sed -n 's/^per image: //p' "$tmp/p0")
    done
    rounds=$(echo "$line" | sed -n 's/^rounds \([0-9]*\),.*/\1/p')
    bytes=$(echo "$line" | sed -n 's/.*party 0 \([0-9.]*\) \([kMG]*B\).*/\1/p')
    unit=$(echo "$line" | sed -n 's/.*party 0 \([0-9.]*\) \([kMG]*B\).*/\2/p')
    local med min m
    med=$(printf '%s\n' "${lat[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    min=$(printf '%s\n' "${lat[@]}" | sort -g | head -1)
    m=$(mb "$bytes" "$unit")
    echo "bench smpc.$name.ms $med ms (median of $RUNS runs, fastest $min ms; share the image, the network, reveal to party 0)"
    awk -v v="$med" 'BEGIN { printf "bench smpc.'"$name"'.ms.ratio %.3f x (ours / MP-SPDZ 154 ms, lower is better)\n", v / 154 }'
    echo "bench smpc.$name.mb $m MB (sent by party 0)"
    awk -v v="$m" 'BEGIN { printf "bench smpc.'"$name"'.mb.ratio %.3f x (ours / MP-SPDZ 7.1 MB, lower is better)\n", v / 7.1 }'
    echo "bench smpc.$name.rounds $rounds rounds"
}
bench_one cnn "" || exit 1
echo "# the same network with each 2x2 average pooling folded into the convolution before it (4x4 kernels, stride 2; model owner's plaintext step)"
bench_one cnn_fused fused || exit 1
