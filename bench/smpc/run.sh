#!/bin/bash
# The .he side of the smpc group, after the C programs of this folder:
# private MNIST inference on secret shares (bench/smpc/mnist.sh).
HE=${HE:-build/he}
export HE
bash "$(dirname "$0")/mnist.sh" || exit 1
bash "$(dirname "$0")/train.sh" || exit 1
bash "$(dirname "$0")/wan.sh" || exit 1
