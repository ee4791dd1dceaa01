#!/bin/sh
# The ONNX pipeline of doc/models.md end to end: the seed's Keras CNN
# (seeded weights) written as ONNX by scripts/keras_cnn_onnx.he, then run by
# scripts/onnx_mnist.he on MNIST test images in the clear and on shares,
# every prediction on shares equal to the plain run's (skip without MNIST);
# then the Keras-HDF5 and the CKKS-planned variants (below).
HE=${HE:-build/he}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! "$HE" scripts/keras_cnn_onnx.he "" "$tmp/k.onnx" >"$tmp/out" 2>&1; then
    echo "not ok keras_cnn_onnx: $(tail -3 "$tmp/out")"
    exit 0
fi
if grep -q "11 dense11      Gemm         dense 64 -> 10 + bias" "$tmp/out"; then echo "ok keras_cnn_onnx"
else echo "not ok keras_cnn_onnx: $(tail -3 "$tmp/out")"; fi
if ! "$HE" -e 'import data
print(len(data.mnist("t10k", 0, 1)))' >/dev/null 2>&1; then
    for t in onnx_mnist_shares keras_mnist onnx_mnist_ckks_planned cryptonets_onnx_planned; do
        echo "skip $t: no MNIST data (make data)"
    done
    exit 0
fi
"$HE" scripts/onnx_mnist.he "$tmp/k.onnx" shares 4 >"$tmp/out" 2>&1
if grep -q "^shares: accuracy [0-9]*/4, equal to the plain run: 4/4" "$tmp/out"; then echo "ok onnx_mnist_shares"
else echo "not ok onnx_mnist_shares: $(tail -3 "$tmp/out")"; fi

# --- the Keras-HDF5 variant: the seed's Keras CNN (seeded weights) written
# as Keras' model.save file (scripts/keras_cnn_h5.py), classified on rep3
# shares by scripts/keras_mnist.he, simulated and as three processes ---
py=
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import h5py, numpy' 2>/dev/null; then py=$p; break; fi
done
if [ -z "$py" ]; then
    echo "skip keras_mnist: python3-h5py missing (make deps)"
else
    mkdir -p "$tmp/kw"
    if "$HE" -e "import keras_cnn as net
net.init(1)
net.save(\"$tmp/kw\")" >"$tmp/out" 2>&1 && "$py" scripts/keras_cnn_h5.py "$tmp/kw" "$tmp/kw/keras_cnn" >>"$tmp/out" 2>&1 &&
        "$HE" scripts/keras_mnist.he "$tmp/kw/keras_cnn.h5" 4 >"$tmp/out" 2>&1 &&
        grep -q "^rep3: accuracy [0-9]*/4, equal to the plain run: 4/4" "$tmp/out"; then echo "ok keras_mnist_rep3"
    else echo "not ok keras_mnist_rep3: $(tail -3 "$tmp/out")"; fi
    HE="$HE" sh scripts/run_parties.sh scripts/keras_mnist.he "$tmp/kw/keras_cnn_weights.h5" 3 "$tmp/kw/keras_cnn.json" >"$tmp/out" 2>&1
    n=$(grep -c "^rep3: accuracy [0-9]*/3, equal to the plain run: 3/3" "$tmp/out")
    [ "$n" = 3 ] && echo "ok keras_mnist_rep3_processes" || echo "not ok keras_mnist_rep3_processes: $n parties: $(tail -3 "$tmp/out")"
fi

# --- the CKKS-planned variant: a CryptoNets-shaped model (conv 5x5 stride 2,
# square, dense 845 -> 16, square, dense; seeded weights) on real images
# over CKKS with the parameters ckks.plan chooses; and the full CryptoNets
# (scripts/cryptonets_onnx.he) planned (he --plan: no encryption) ---
if "$HE" -e "import onnx
import model
import cryptonets as net
net.geometry(28, 5, 5, 16, 10)
net.init(1)
onnx.save(model.cryptonets(net.k, net.b1, net.W2, net.b2, net.W3, net.b3, 28), \"$tmp/cn16.onnx\")" >"$tmp/out" 2>&1 &&
    "$HE" scripts/onnx_mnist_ckks.he "$tmp/cn16.onnx" 4 >"$tmp/out" 2>&1 &&
    grep -q "^ckks (planned): accuracy [0-9]*/4, equal to the plain run: 4/4" "$tmp/out" &&
    grep -q "^<ckks plan of <fn run>: depth 5, N=" "$tmp/out"; then echo "ok onnx_mnist_ckks_planned"
else echo "not ok onnx_mnist_ckks_planned: $(tail -3 "$tmp/out")"; fi
if "$HE" scripts/cryptonets_onnx.he "" "$tmp/cn.onnx" >"$tmp/out" 2>&1 &&
    "$HE" --plan scripts/onnx_mnist_ckks.he "$tmp/cn.onnx" 4 >"$tmp/out" 2>&1 &&
    grep -q "plain products 105980," "$tmp/out"; then echo "ok cryptonets_onnx_planned"
else echo "not ok cryptonets_onnx_planned: $(tail -3 "$tmp/out")"; fi
