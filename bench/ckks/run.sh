#!/bin/bash
# The .he side of the ckks group, after the C programs of this folder:
# MNIST inference on encrypted images (bench/ckks/mnist.sh).
HE=${HE:-build/he}
export HE
bash "$(dirname "$0")/mnist.sh" || exit 1
