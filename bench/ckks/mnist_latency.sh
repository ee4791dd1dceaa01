#!/bin/bash
# MNIST latency mode: one encrypted image at a time (scripts/mnist_ckks_latency.he),
# server time per image (median over $MNIST_LATENCY_COUNT images, default 100)
# with 1 and 2 threads (HE_THREADS), accuracy and agreement with the plaintext
# model. Targets (issue 13): <= 0.5 s per image on 2 cores at >= 98.5%;
# reference: LoLa (ICML 2019) 2.2 s per image, CryptoNets one image per 250 s
# batch. Needs the weights of scripts/mnist_train.he in $MNIST_DIR (bench/ckks/mnist.sh
# trains them when missing).
HE=${HE:-build/he}
DIR=${MNIST_DIR:-build/mnist}
COUNT=${MNIST_LATENCY_COUNT:-100}
[ -x "$HE" ] || { echo "bench mnist latency: $HE not built" >&2; exit 1; }
if [ ! -f "$DIR/fc2_b.npy" ]; then
    echo "# skip mnist.ckks.latency: no weights in $DIR (bench/ckks/mnist.sh trains them)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for t in 1 2; do
    HE_THREADS=$t "$HE" scripts/mnist_ckks_latency.he "$COUNT" "$DIR" >"$tmp/out$t" 2>&1 ||
        { echo "# mnist_ckks_latency.he failed"; tail -3 "$tmp/out$t"; exit 1; }
    ms=$(sed -n 's/^latency: \([0-9.]*\) ms server.*/\1/p' "$tmp/out$t")
    kern=$("${BUILD:-build}"/bench/ckks/hoist_bench --kernel 2>/dev/null || echo "IFMA where the CPU has it")
    echo "bench mnist.ckks.latency_ms.threads$t $ms ms (median of $COUNT images, $t threads, kernel: $kern)"
done
# the hand-chosen context (ckks.context(8192, 28, 5), cryptonets.latency_steps) at 2 threads
HE_THREADS=2 "$HE" scripts/mnist_ckks_latency.he "$COUNT" "$DIR" hand >"$tmp/hand" 2>&1 ||
    { echo "# mnist_ckks_latency.he hand failed"; tail -3 "$tmp/hand"; exit 1; }
ms_hand=$(sed -n 's/^latency: \([0-9.]*\) ms server.*/\1/p' "$tmp/hand")
echo "bench mnist.ckks.latency.params_planned $(sed -n 's/^parameters (planned): //p' "$tmp/out2")"
echo "bench mnist.ckks.latency.params_hand $(sed -n 's/^parameters (by hand): //p' "$tmp/hand")"
echo "bench mnist.ckks.latency_ms.hand $ms_hand ms (2 threads, agreement $(sed -n 's/^agreement with the plaintext model: //p' "$tmp/hand"))"
awk -v p="$ms" -v h="$ms_hand" 'BEGIN { printf "bench mnist.ckks.latency_ms.planned.ratio %.2f x (planned / hand-chosen, lower is faster)\n", p / h }'
echo "bench mnist.ckks.latency.err_predicted $(sed -n 's/^logit error: rms .* measured, \([^ ]*\) predicted.*/\1/p' "$tmp/out2") (rms logit error, the plan, first 10 images)"
echo "bench mnist.ckks.latency.err_measured $(sed -n 's/^logit error: rms \([^ ]*\) measured.*/\1/p' "$tmp/out2") (rms logit error, decrypted - plaintext)"
acc=$(sed -n 's/^accuracy: .*(\(.*\)%)/\1/p' "$tmp/out2")
agree=$(sed -n 's/^agreement with the plaintext model: //p' "$tmp/out2")
echo "bench mnist.ckks.latency_1img $ms ms (2 threads)"
awk -v v="$ms" 'BEGIN { printf "bench mnist.ckks.latency.ratio_lola %.3f x (ours / LoLa 2200 ms, lower is better)\n", v / 2200 }'
awk -v v="$ms" 'BEGIN { printf "bench mnist.ckks.latency.ratio_target %.2f x (ours / the 500 ms target)\n", v / 500 }'
echo "bench mnist.ckks.latency.accuracy $acc % ($COUNT images)"
echo "bench mnist.ckks.latency.agreement $agree (encrypted = plaintext predictions)"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
