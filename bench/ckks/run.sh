#!/bin/bash
# The .he side of the ckks group, after the C programs of this folder:
# MNIST inference on encrypted images (bench/ckks/mnist.sh: batches;
# bench/ckks/mnist_latency.sh: one image at a time; bench/ckks/mnist_throughput.sh:
# two images per slot).
HE=${HE:-build/he}
export HE
bash "$(dirname "$0")/tour.sh" || exit 1
bash "$(dirname "$0")/mnist.sh" || exit 1
bash "$(dirname "$0")/mnist_latency.sh" || exit 1
bash "$(dirname "$0")/mnist_throughput.sh" || exit 1
bash "$(dirname "$0")/mlinf.sh" || exit 1
