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
# $RUNS runs of one image each (default 5): the median, and the fastest; the
# dealer protocol (2 parties + dealer) and rep3 (3 parties, no dealer).
# bench/smpc/wan.sh runs it again over a slow network: LAUNCH (the
# launcher, default scripts/run_parties.sh), PREFIX (of the bench names),
# PLAIN=1 (the unfused network only, no comparisons with references).
HE=${HE:-build/he}
LAUNCH=${LAUNCH:-scripts/run_parties.sh}
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
[ -n "$PLAIN" ] || echo "# reference: MP-SPDZ 0.4.2, dealer protocol, 2 parties + dealer, loopback: 154 ms, 7.1 MB per party"

# mb VALUE UNIT -> MB
mb() { awk -v v="$1" -v u="$2" 'BEGIN { if (u == "kB") v /= 1000; else if (u == "B") v /= 1e6; else if (u == "GB") v *= 1000; printf "%.4f", v }'; }

# one variant: $1 the bench name, $2 the number of computing parties, $3 the
# reference ms, $4 the reference MB per party (for the ratios), then the
# options of the script (fused, rep3)
bench_one() {
    local name=$PREFIX$1 n=$2 ref_ms=$3 ref_mb=$4 lat=() line rounds p b u mbs=() top=0
    shift 4
    for i in $(seq "$RUNS"); do
        # shellcheck disable=SC2086
        $LAUNCH -n "$n" scripts/mnist_smpc.he 1 "$DIR" "$@" >"$tmp/out" 2>&1 ||
            { echo "# $LAUNCH -n $n scripts/mnist_smpc.he 1 DIR $* failed"; tail -5 "$tmp/out"; return 1; }
        # party 0's figures: the lines after '== party 0'
        sed -n '/^== party 0/,/^== party 1/p' "$tmp/out" >"$tmp/p0"
        lat+=("$(sed -n 's/^latency per image: \([0-9.]*\) ms.*/\1/p' "$tmp/p0")")
    done
    line=$(sed -n 's/^per image: //p' "$tmp/p0")
    rounds=$(echo "$line" | sed -n 's/^rounds \([0-9]*\),.*/\1/p')
    # each party's own traffic, from its own output (a process knows only its own)
    for p in $(seq 0 $((n - 1))); do
        line=$(sed -n "/^== party $p /,/^== /s/^per image: //p" "$tmp/out")
        b=$(echo "$line" | sed -n "s/.*party $p \([0-9.]*\) \([kMG]*B\).*/\1/p")
        u=$(echo "$line" | sed -n "s/.*party $p \([0-9.]*\) \([kMG]*B\).*/\2/p")
        mbs+=("$(mb "$b" "$u")")
    done
    top=$(printf '%s\n' "${mbs[@]}" | sort -g | tail -1)
    local med min
    med=$(printf '%s\n' "${lat[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    min=$(printf '%s\n' "${lat[@]}" | sort -g | head -1)
    echo "bench smpc.$name.ms $med ms (median of $RUNS runs, fastest $min ms; share the image, the network, reveal to party 0)"
    [ -n "$PLAIN" ] || awk -v v="$med" -v r="$ref_ms" 'BEGIN { printf "bench smpc.'"$name"'.ms.ratio %.3f x (ours / MP-SPDZ %s ms, lower is better)\n", v / r, r }'
    echo "bench smpc.$name.mb ${mbs[0]} MB (sent by party 0)"
    [ -n "$PLAIN" ] || awk -v v="${mbs[0]}" -v r="$ref_mb" 'BEGIN { printf "bench smpc.'"$name"'.mb.ratio %.3f x (ours / MP-SPDZ %s MB, lower is better)\n", v / r, r }'
    for p in $(seq 0 $((n - 1))); do echo "bench smpc.$name.mb.p$p ${mbs[$p]} MB (sent by party $p)"; done
    echo "bench smpc.$name.mb.max $top MB (the most any party sent)"
    echo "bench smpc.$name.rounds $rounds rounds"
}
bench_one cnn 2 154 7.1 || exit 1
if [ -n "$PLAIN" ]; then
    bench_one rep3.cnn 3 66.6 0.389 rep3 || exit 1
    exit 0
fi
echo "# the same network with each 2x2 average pooling folded into the convolution before it (4x4 kernels, stride 2; model owner's plaintext step)"
bench_one cnn_fused 2 154 7.1 fused || exit 1
echo "# rep3: three parties, replicated sharing, no dealer (run_parties.sh -n 3 scripts/mnist_smpc.he 1 DIR rep3)"
echo "# reference: MP-SPDZ replicated-ring-party.x, 3 parties, loopback, the same network on one image: 66.6 ms with TLS (44.8 ms without), 0.389 MB from party 0"
bench_one rep3.cnn 3 66.6 0.389 rep3 || exit 1
bench_one rep3.cnn_fused 3 66.6 0.389 fused rep3 || exit 1
