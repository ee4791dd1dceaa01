#!/usr/bin/env python3
# Writes Keras-layout HDF5 files (the layout of Keras' model.save and
# save_weights, legacy HDF5 format: hdf5_format.py / legacy_h5_format.py)
# with h5py, their inputs, and the outputs computed by numpy alone, in
# Keras' own channels-last layout (tests/cli/keras.sh runs it):
#   python3 tests/keras/make_keras.py OUTDIR [SEED]
# No Keras is needed: the files are written as Keras writes them
# (scripts/keras_cnn_h5.py's write()). Run from the repository root.
#   cnn.h5       model.save, Keras 2 style: Conv2D same + BatchNormalization +
#                ReLU, MaxPooling2D, Conv2D stride 2 same (uneven pads, no
#                bias, tanh inline), Dropout, Flatten (3 channels: the row
#                order matters), Dense sigmoid, Dense softmax
#   cnn_w.h5 + cnn.json   save_weights (layer_names split as Keras splits long
#                attributes) and model.to_json()
#   mlp.h5       model.save, Keras 3 style (batch_shape, weight names
#                without scope): Dense relu, Dropout, Dense, ReLU,
#                AveragePooling-free, Dense tanh, Activation softmax
#   bad_*.h5     files he must refuse
import json
import sys

import h5py
import numpy as np

sys.path.insert(0, "scripts")
from keras_cnn_h5 import conv_cfg, layer, write  # noqa: E402 (Keras' layout, written once)

out = sys.argv[1]
rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 1)


# --- numpy reference, channels last (N, H, W, C) ---
def same_pads(n, k, s):
    o = -(-n // s)
    t = max((o - 1) * s + k - n, 0)
    return t // 2, t - t // 2


def conv(x, k, b, s, pad):
    kh, kw, c, oc = k.shape
    if pad == "same":
        (t, bo), (l, r) = same_pads(x.shape[1], kh, s), same_pads(x.shape[2], kw, s)
        x = np.pad(x, ((0, 0), (t, bo), (l, r), (0, 0)))
    oh, ow = (x.shape[1] - kh) // s + 1, (x.shape[2] - kw) // s + 1
    y = np.zeros((x.shape[0], oh, ow, oc))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * s:i * s + kh, j * s:j * s + kw, :]
            y[:, i, j, :] = np.tensordot(patch, k, axes=([1, 2, 3], [0, 1, 2]))
    return y + (b if b is not None else 0)


def pool(x, k, s, fn):
    oh, ow = (x.shape[1] - k) // s + 1, (x.shape[2] - k) // s + 1
    y = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        for j in range(ow):
            y[:, i, j, :] = fn(x[:, i * s:i * s + k, j * s:j * s + k, :], axis=(1, 2))
    return y


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def f32(shape, scale=0.5):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# --- cnn: Keras 2 style model.save ---
k1, b1 = f32((3, 3, 2, 4)), f32((4,), 0.1)
gamma, beta = (1 + f32((4,), 0.2)), f32((4,), 0.1)
mean, var = f32((4,), 0.2), (0.5 + rng.random(4)).astype(np.float32)
k2 = f32((3, 3, 4, 3))
d1, db1 = f32((12, 5)), f32((5,), 0.1)
d2, db2 = f32((5, 4)), f32((4,), 0.1)
cnn_layers = [
    layer("InputLayer", batch_input_shape=[None, 8, 8, 2], dtype="float32", sparse=False, ragged=False,
          name="input_1"),
    conv_cfg("conv2d", 4, 3, 1, "same", "linear"),
    layer("BatchNormalization", name="batch_normalization", axis=[3], momentum=0.99, epsilon=0.001, center=True,
          scale=True),
    layer("ReLU", name="re_lu", max_value=None, negative_slope=0.0, threshold=0.0),
    layer("MaxPooling2D", name="max_pooling2d", pool_size=[2, 2], padding="valid", strides=[2, 2],
          data_format="channels_last"),
    conv_cfg("conv2d_1", 3, 3, 2, "same", "tanh", bias=False),
    layer("Dropout", name="dropout", rate=0.25, noise_shape=None, seed=None),
    layer("Flatten", name="flatten", data_format="channels_last"),
    layer("Dense", name="dense", units=5, activation="sigmoid", use_bias=True),
    layer("Dense", name="dense_1", units=4, activation="softmax", use_bias=True),
]
cnn_weights = [
    ("conv2d", [("conv2d/kernel:0", k1), ("conv2d/bias:0", b1)]),
    ("batch_normalization", [("batch_normalization/gamma:0", gamma), ("batch_normalization/beta:0", beta),
                             ("batch_normalization/moving_mean:0", mean),
                             ("batch_normalization/moving_variance:0", var)]),
    ("re_lu", []), ("max_pooling2d", []),
    ("conv2d_1", [("conv2d_1/kernel:0", k2)]),
    ("dropout", []), ("flatten", []),
    ("dense", [("dense/kernel:0", d1), ("dense/bias:0", db1)]),
    ("dense_1", [("dense_1/kernel:0", d2), ("dense_1/bias:0", db2)]),
]
cfg = write(f"{out}/cnn.h5", cnn_layers, cnn_weights)
write(f"{out}/cnn_w.h5", cnn_layers, cnn_weights, whole=False, split=True)
with open(f"{out}/cnn.json", "w") as f:
    json.dump(cfg, f)
x = rng.random((3, 8, 8, 2))
h = conv(x, k1.astype(float), b1, 1, "same")
h = (h - mean) / np.sqrt(var.astype(float) + 0.001) * gamma + beta
h = np.maximum(h, 0)
h = pool(h, 2, 2, np.max)
h = np.tanh(conv(h, k2.astype(float), None, 2, "same"))
h = h.reshape(len(x), -1)  # Keras' Flatten: (h, w, c) order
h = sigmoid(h @ d1 + db1)
y = h @ d2 + db2  # the logits: he drops the output softmax
np.save(f"{out}/cnn_x.npy", np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # channels first for he
np.save(f"{out}/cnn_y.npy", y)

# --- mlp: Keras 3 style model.save ---
w1, c1 = f32((6, 8)), f32((8,), 0.1)
w2, c2 = f32((8, 5)), f32((5,), 0.1)
w3, c3 = f32((5, 3)), f32((3,), 0.1)
mlp_layers = [
    {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
     "config": {"batch_shape": [None, 6], "dtype": "float32", "sparse": False, "name": "input_layer"}},
    {"module": "keras.layers", "class_name": "Dense", "registered_name": None, "build_config": {"input_shape": [None, 6]},
     "config": {"name": "dense", "trainable": True, "units": 8, "activation": "relu", "use_bias": True}},
    {"module": "keras.layers", "class_name": "Dropout", "config": {"name": "dropout", "rate": 0.5}},
    {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense_1", "units": 5, "activation": "linear",
                                                                  "use_bias": True}},
    {"module": "keras.layers", "class_name": "ReLU", "config": {"name": "re_lu", "max_value": None,
                                                                 "negative_slope": 0.0, "threshold": 0.0}},
    {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense_2", "units": 3, "activation": "tanh",
                                                                  "use_bias": True}},
    {"module": "keras.layers", "class_name": "Activation", "config": {"name": "activation", "activation": "softmax"}},
]
write(f"{out}/mlp.h5", mlp_layers, [("dense", [("kernel", w1), ("bias", c1)]), ("dropout", []),
                                    ("dense_1", [("kernel", w2), ("bias", c2)]), ("re_lu", []),
                                    ("dense_2", [("kernel", w3), ("bias", c3)]), ("activation", [])],
      version="3.3.3", extra={"module": "keras", "registered_name": None})
x = rng.standard_normal((4, 6))
y = np.tanh(np.maximum(np.maximum(x @ w1 + c1, 0) @ w2 + c2, 0) @ w3 + c3)
np.save(f"{out}/mlp_x.npy", x)
np.save(f"{out}/mlp_y.npy", y)

# --- files to refuse ---
bad_in = [layer("InputLayer", batch_input_shape=[None, 6], name="input_1")]
write(f"{out}/bad_lstm.h5", bad_in + [layer("LSTM", name="lstm", units=4)], [("lstm", [])])
write(f"{out}/bad_softmax.h5", bad_in + [layer("Dense", name="dense", units=3, activation="softmax"),
                                         layer("Dense", name="dense_1", units=2, activation="linear")],
      [("dense", [("dense/kernel:0", f32((6, 3))), ("dense/bias:0", f32((3,)))]),
       ("dense_1", [("dense_1/kernel:0", f32((3, 2))), ("dense_1/bias:0", f32((2,)))])])
write(f"{out}/bad_shape.h5", bad_in + [layer("Dense", name="dense", units=3, activation="relu")],
      [("dense", [("dense/kernel:0", f32((5, 3))), ("dense/bias:0", f32((3,)))])])
write(f"{out}/bad_dilation.h5", [layer("InputLayer", batch_input_shape=[None, 8, 8, 1], name="in")] +
      [conv_cfg("conv2d", 2, 3, 1, "valid", "relu", dilation_rate=[2, 2])],
      [("conv2d", [("conv2d/kernel:0", f32((3, 3, 1, 2))), ("conv2d/bias:0", f32((2,)))])])
write(f"{out}/bad_functional.h5", bad_in, [], extra={"class_name": "Functional"})
write(f"{out}/bad_weights_only.h5", bad_in + [layer("Dense", name="dense", units=3, activation="relu")],
      [("dense", [("dense/kernel:0", f32((6, 3))), ("dense/bias:0", f32((3,)))])], whole=False)
with h5py.File(f"{out}/bad_keras3.weights.h5", "w") as f:  # Keras 3's own weights format (saving_lib)
    f.create_group("layers").create_group("dense").create_group("vars").create_dataset("0", data=f32((6, 3)))
    f.create_group("vars")
with h5py.File(f"{out}/bad_plain.h5", "w") as f:  # HDF5, but not Keras
    f.create_dataset("x", data=np.arange(4.0))
with open(f"{out}/cnn.h5", "rb") as f:
    data = f.read()
with open(f"{out}/bad_truncated.h5", "wb") as f:
    f.write(data[: len(data) // 2])
with open(f"{out}/bad.json", "w") as f:
    f.write('{"class_name": "Sequential", "config": {"layers": [}}\n')
