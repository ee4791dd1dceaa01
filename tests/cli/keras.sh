#!/bin/sh
# Keras HDF5 models (doc/models.md): tests/keras/make_keras.py writes
# Keras-layout files with Debian's python3-h5py and their outputs with numpy
# alone; tests/keras/check.he imports them (model.save's and save_weights'
# files) and compares in the clear, on 2-party and rep3 shares and after an
# ONNX round trip; the seed's Keras CNN written by scripts/keras_cnn_h5.py
# gives stdlib/keras_cnn.he's logits (tests/keras/seed_cnn.he); files that
# must be refused are, with their messages. Random weights each run (the
# seed is in a failure's line). Skips visibly without python3-h5py.
HE=${HE:-build/he}
case $HE in /*) ;; *) HE=$(pwd)/$HE ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import h5py, numpy' 2>/dev/null; then py=$p; break; fi
done
if [ -z "$py" ]; then
    echo "skip keras: python3-h5py and python3-numpy are missing (make deps installs them)"
    exit 0
fi
seed=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
if ! "$py" tests/keras/make_keras.py "$tmp" "$seed" >"$tmp/py" 2>&1; then
    echo "not ok keras_make_files: $(tail -3 "$tmp/py")"
    exit 0
fi
"$HE" tests/keras/check.he "$tmp" >"$tmp/out" 2>&1
sed "s/^not ok .*/& (seed $seed)/" "$tmp/out"
grep -q '^ok mlp_rep3$' "$tmp/out" || echo "not ok keras_check_ran: $(tail -3 "$tmp/out")"

# --- the seed's Keras CNN ---
mkdir "$tmp/seed"
if "$HE" -e "import keras_cnn as net
net.init($seed)
net.save(\"$tmp/seed\")" >"$tmp/o" 2>&1 &&
    "$py" scripts/keras_cnn_h5.py "$tmp/seed" "$tmp/seed/keras_cnn" >"$tmp/o" 2>&1; then
    "$HE" tests/keras/seed_cnn.he "$tmp/seed" 2>&1
else
    echo "not ok seed_cnn_files: $(tail -3 "$tmp/o")"
fi

# --- refusals: the file, what is wrong, what to do ---
refuse() { # name, file, expected message (after "runtime error: ")
    "$HE" -e "import onnx
onnx.load(\"$2\")" >"$tmp/o" 2>&1
    rc=$?
    got=$(sed -n 's/^<-e>:2:10: runtime error: //p' "$tmp/o")
    if [ "$rc" = 1 ] && [ "$got" = "$3" ]; then echo "ok keras_refuse_$1"
    else echo "not ok keras_refuse_$1: exit $rc: $(head -c 300 "$tmp/o")"; fi
}
cd "$tmp" || exit 1
refuse lstm bad_lstm.h5 "bad_lstm.h5: layer 'lstm' (LSTM) is not supported (he reads InputLayer, Conv2D, Dense, MaxPooling2D, AveragePooling2D, Flatten, Activation, ReLU, BatchNormalization, Dropout, Softmax); replace it, or export the model as ONNX with supported operators"
refuse softmax bad_softmax.h5 "bad_softmax.h5: layer 'dense' (Dense): softmax is supported only at the output (it is dropped, the argmax is the same); move it to the last layer"
refuse shape bad_shape.h5 "bad_shape.h5: layer 'dense' (Dense): kernel of shape [5, 3], expected [6, 3]"
refuse dilation bad_dilation.h5 "bad_dilation.h5: layer 'conv2d' (Conv2D): dilation_rate (2, 2) is not supported; only 1"
refuse functional bad_functional.h5 "bad_functional.h5: the architecture is a Keras Functional model; he reads Sequential models (rebuild it with keras.Sequential, or export it as ONNX)"
refuse weights_only bad_weights_only.h5 "bad_weights_only.h5: a Keras weights file without the architecture (written by save_weights); give the architecture too: onnx.keras(path, \"model.json\") with the JSON of model.to_json()"
refuse keras3 bad_keras3.weights.h5 "bad_keras3.weights.h5: a Keras 3 weights file (.weights.h5); save the model with model.save(\"model.h5\") (the HDF5 format he reads) or export it as ONNX"
refuse not_keras bad_plain.h5 "bad_plain.h5: not a Keras HDF5 file (no layer_names attribute at the root or in model_weights)"
refuse truncated bad_truncated.h5 "bad_truncated.h5: not a readable HDF5 file (damaged?) (libhdf5: unable to open file)"
"$HE" -e 'import onnx
onnx.keras("cnn_w.h5", "bad.json")' >"$tmp/o" 2>&1
if grep -q "^<-e>:2:11: runtime error: bad.json:1:52: the architecture is not JSON: unexpected token near '}'$" "$tmp/o"
then echo "ok keras_refuse_bad_json"; else echo "not ok keras_refuse_bad_json: $(head -c 300 "$tmp/o")"; fi
