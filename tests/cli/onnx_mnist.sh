#!/bin/sh
# The ONNX pipeline of doc/models.md end to end: the seed's Keras CNN
# (seeded weights) written as ONNX by scripts/keras_cnn_onnx.he, then run by
# scripts/onnx_mnist.he on MNIST test images in the clear and on shares,
# every prediction on shares equal to the plain run's (skip without MNIST).
HE=${HE:-build/he}
tmp=${TMPDIR:-/tmp}
if ! "$HE" scripts/keras_cnn_onnx.he "" "$tmp/k.onnx" >"$tmp/out" 2>&1; then
    echo "not ok keras_cnn_onnx: $(tail -3 "$tmp/out")"
    exit 0
fi
if grep -q "11 dense11      Gemm         dense 64 -> 10 + bias" "$tmp/out"; then echo "ok keras_cnn_onnx"
else echo "not ok keras_cnn_onnx: $(tail -3 "$tmp/out")"; fi
if ! "$HE" -e 'import data
print(len(data.mnist("t10k", 0, 1)))' >/dev/null 2>&1; then
    echo "skip onnx_mnist_shares: no MNIST data (make data)"
    exit 0
fi
"$HE" scripts/onnx_mnist.he "$tmp/k.onnx" shares 4 >"$tmp/out" 2>&1
if grep -q "^shares: accuracy [0-9]*/4, equal to the plain run: 4/4" "$tmp/out"; then echo "ok onnx_mnist_shares"
else echo "not ok onnx_mnist_shares: $(tail -3 "$tmp/out")"; fi
