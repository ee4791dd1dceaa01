#!/usr/bin/env python3
# The seed's Keras CNN (stdlib/keras_cnn.he: its .npy weights, as
# scripts/mnist_cnn_train.he saves them) written as the HDF5 files Keras
# writes, without Keras: model.save's file (the seed's "model.hdf5": the
# architecture in the root attribute model_config, the weights in
# model_weights), save_weights' file and model.to_json()'s architecture.
# Channels last, as Keras has them: kernels [KH, KW, C, OC].
#   python3 scripts/keras_cnn_h5.py WEIGHTS_DIR OUT_PREFIX
#     writes OUT_PREFIX.h5, OUT_PREFIX_weights.h5, OUT_PREFIX.json
# Needs Debian's python3-h5py and python3-numpy (make deps). The layout is
# Keras' legacy HDF5 one (hdf5_format.py / legacy_h5_format.py);
# tests/keras/make_keras.py writes its test models with write() below.
import json
import sys

import numpy as np


def layer(cls, **cfg):
    return {"class_name": cls, "config": cfg}


def conv_cfg(name, filters, k, s, pad, act, bias=True, **more):
    c = dict(name=name, trainable=True, dtype="float32", filters=filters, kernel_size=[k, k], strides=[s, s],
             padding=pad, data_format="channels_last", dilation_rate=[1, 1], groups=1, activation=act,
             use_bias=bias, kernel_initializer={"class_name": "GlorotUniform", "config": {"seed": None}})
    c.update(more)
    return layer("Conv2D", **c)


def write(path, layers, weights, version="2.11.0", whole=True, split=False, name="sequential", extra=None):
    """Writes a Sequential model as Keras does. weights: (layer name, [(weight
    name, array)]) for each of model.layers, in order. whole: model.save's
    file, else save_weights'. split: layer_names split into layer_names0,
    layer_names1 (as Keras splits attributes past 64 KB). Returns the
    architecture (model.to_json()'s)."""
    import h5py
    config = {"class_name": "Sequential", "config": {"name": name, "layers": layers}}
    if extra:
        config.update(extra)
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = version
        f.attrs["backend"] = "tensorflow"
        if whole:
            f.attrs["model_config"] = json.dumps(config).encode("utf8")
            f.attrs["training_config"] = json.dumps({"loss": "sparse_categorical_crossentropy"}).encode("utf8")
            g = f.create_group("model_weights")
            g.attrs["keras_version"] = version
            g.attrs["backend"] = "tensorflow"
        else:
            g = f
        names = [n.encode("utf8") for n, _ in weights]
        if split:
            g.attrs["layer_names0"] = np.asarray(names[: len(names) // 2])
            g.attrs["layer_names1"] = np.asarray(names[len(names) // 2:])
        else:
            g.attrs["layer_names"] = np.asarray(names)
        for lname, ws in weights:
            lg = g.create_group(lname)
            lg.attrs["weight_names"] = np.asarray([w.encode("utf8") for w, _ in ws])
            for w, a in ws:
                d = lg.create_dataset(w, a.shape, dtype=a.dtype)
                if a.size:
                    d[()] = a
    return config


def main():
    src, out = sys.argv[1], sys.argv[2]
    # the seed's R code: keras_model_sequential() %>% layer_conv_2d(16, 3x3,
    # input_shape = c(28, 28, 1)) %>% layer_average_pooling_2d(2x2) %>%
    # layer_activation("relu") ... layer_flatten() %>% layer_dense(10)
    layers, weights = [], []
    for i, maps in enumerate([16, 32, 64], 1):
        conv = "conv2d" if i == 1 else f"conv2d_{i - 1}"
        pool = "average_pooling2d" if i == 1 else f"average_pooling2d_{i - 1}"
        act = "activation" if i == 1 else f"activation_{i - 1}"
        c = conv_cfg(conv, maps, 3, 1, "valid", "linear")
        if i == 1:
            c["config"]["batch_input_shape"] = [None, 28, 28, 1]
        layers += [c, layer("AveragePooling2D", name=pool, pool_size=[2, 2], padding="valid", strides=[2, 2],
                            data_format="channels_last"),
                   layer("Activation", name=act, activation="relu")]
        k = np.load(f"{src}/conv{i}_w.npy").astype(np.float32).transpose(2, 3, 1, 0)  # OC,C,KH,KW -> KH,KW,C,OC
        b = np.load(f"{src}/conv{i}_b.npy").astype(np.float32)
        weights += [(conv, [(f"{conv}/kernel:0", np.ascontiguousarray(k)), (f"{conv}/bias:0", b)]), (pool, []),
                    (act, [])]
    layers += [layer("Flatten", name="flatten", data_format="channels_last"),
               layer("Dense", name="dense", units=10, activation="linear", use_bias=True)]
    weights += [("flatten", []), ("dense", [("dense/kernel:0", np.load(f"{src}/dense_w.npy").astype(np.float32)),
                                            ("dense/bias:0", np.load(f"{src}/dense_b.npy").astype(np.float32))])]
    config = write(f"{out}.h5", layers, weights)
    write(f"{out}_weights.h5", layers, weights, whole=False)
    with open(f"{out}.json", "w") as f:
        json.dump(config, f)
    print(f"wrote {out}.h5, {out}_weights.h5 and {out}.json")


if __name__ == "__main__":
    main()
