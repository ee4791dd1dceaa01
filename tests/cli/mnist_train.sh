#!/bin/sh
# scripts/mnist_train.he's data augmentation (the ninth argument: images
# moved by up to that many pixels every epoch, cryptonets.shift_images) on
# a small run: 1 shuffled epoch of 640 MNIST images. Without the argument
# the run trains on the images as they are (no augmentation line); with 1
# it says so and its weights differ; both end with the test accuracy.
# Skips without MNIST. Prints ok / not ok lines.
HE=${HE:-build/he}
tmp=${TMPDIR:-/tmp}
if ! "$HE" -e 'import data
print(len(data.mnist("t10k", 0, 1)))' >/dev/null 2>&1; then
    echo "skip mnist_train_shift: no MNIST data (make data)"
    exit 0
fi
mkdir -p "$tmp/plain" "$tmp/moved"
"$HE" scripts/mnist_train.he "$tmp/plain" 1 640 0.02 1 >"$tmp/plain.out" 2>&1
rc1=$?
"$HE" scripts/mnist_train.he "$tmp/moved" 1 640 0.02 1 5 100 0.5 1 >"$tmp/moved.out" 2>&1
rc2=$?
if [ "$rc1" = 0 ] && [ "$rc2" = 0 ] &&
    ! grep -q '^augmentation' "$tmp/plain.out" &&
    grep -q '^augmentation: every epoch, each image moved by up to 1 pixel(s) across and down$' "$tmp/moved.out" &&
    grep -q '^accuracy: [0-9]*/10000 ' "$tmp/plain.out" && grep -q '^accuracy: [0-9]*/10000 ' "$tmp/moved.out" &&
    ! cmp -s "$tmp/plain/conv_k.npy" "$tmp/moved/conv_k.npy"; then
    echo "ok mnist_train_shift"
else
    echo "not ok mnist_train_shift: exit $rc1 $rc2: $(tail -2 "$tmp/plain.out") / $(tail -2 "$tmp/moved.out")"
fi
