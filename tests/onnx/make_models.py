#!/usr/bin/python3
# Makes the small ONNX models of tests/onnx/ and their expected outputs.
# Run once (needs Debian's python3-onnx and python3-numpy, not make check):
#   /usr/bin/python3 tests/onnx/make_models.py
# The expected outputs are computed here by numpy, independently of he's
# loader and kernels (plain float64 loops and products).
import os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "models")
rng = np.random.default_rng(16)


def t(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def save(name, nodes, inputs, outputs, inits, x=None, y=None):
    g = helper.make_graph(nodes, name, inputs, outputs, inits)
    m = helper.make_model(g, producer_name="he tests/onnx/make_models.py",
                          opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, name + ".onnx"))
    if x is not None:
        np.save(os.path.join(OUT, name + "_x.npy"), x)
        np.save(os.path.join(OUT, name + "_y.npy"), y)


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


# numpy references (float64 on the float32 weights the files hold)
def conv(x, w, b, stride, pads):
    n, c, h, wd = x.shape
    oc, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + pads[0] + pads[2], wd + pads[1] + pads[3]))
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + wd] = x
    oh = (xp.shape[2] - kh) // stride + 1
    ow = (xp.shape[3] - kw) // stride + 1
    y = np.zeros((n, oc, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            y[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def pool(x, k, s, fn):
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            y[:, :, i, j] = fn(x[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
    return y


def mlp():
    """Gemm (transB) -> Relu -> MatMul -> Add -> Pow 2 -> Gemm -> Softmax."""
    w1, b1 = rng.normal(size=(6, 4)), rng.normal(size=6)
    w2, b2 = rng.normal(size=(6, 5)), rng.normal(size=5)
    w3, b3 = rng.normal(size=(5, 3)), rng.normal(size=3)
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h1"], name="fc1", transB=1),
        helper.make_node("Relu", ["h1"], ["r1"], name="relu1"),
        helper.make_node("MatMul", ["r1", "w2"], ["m2"], name="fc2"),
        helper.make_node("Add", ["m2", "b2"], ["a2"], name="bias2"),
        helper.make_node("Pow", ["a2", "two"], ["p2"], name="square"),
        helper.make_node("Gemm", ["p2", "w3", "b3"], ["z"], name="fc3", alpha=0.5, beta=2.0),
        helper.make_node("Softmax", ["z"], ["y"], name="prob", axis=1),
    ]
    inits = [t("w1", w1), t("b1", b1), t("w2", w2), t("b2", b2), t("w3", w3), t("b3", b3), t("two", 2.0)]
    x = rng.normal(size=(3, 4))
    h = np.maximum(x @ f32(w1).T + f32(b1), 0)
    h = (h @ f32(w2) + f32(b2)) ** 2
    z = 0.5 * (h @ f32(w3)) + 2.0 * f32(b3)   # Softmax at the output dropped: logits
    save("mlp", nodes, [vi("x", ["N", 4])], [vi("y", ["N", 3])], inits, x, z)


def cnn():
    """Conv (pads) -> BatchNormalization -> Mul x*x -> AveragePool -> Conv (stride 2)
    -> Relu -> MaxPool -> Flatten -> Gemm: the shape of the seed's Keras CNN."""
    w1, b1 = rng.normal(size=(2, 1, 3, 3)), rng.normal(size=2)
    g, beta, mean, var = rng.normal(size=2), rng.normal(size=2), rng.normal(size=2), rng.uniform(0.5, 2, size=2)
    w2 = rng.normal(size=(3, 2, 2, 2))
    w3, b3 = rng.normal(size=(3, 4)), rng.normal(size=4)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "g", "beta", "mean", "var"], ["n1"], name="bn1", epsilon=1e-3),
        helper.make_node("Mul", ["n1", "n1"], ["s1"], name="square1"),
        helper.make_node("AveragePool", ["s1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="conv2", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p2"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], name="fc"),
    ]
    inits = [t("w1", w1), t("b1", b1), t("g", g), t("beta", beta), t("mean", mean), t("var", var), t("w2", w2),
             t("w3", w3), t("b3", b3)]
    x = rng.normal(size=(2, 1, 8, 8))
    h = conv(x, f32(w1), f32(b1), 1, [1, 1, 1, 1])
    h = (h - f32(mean).reshape(1, -1, 1, 1)) / np.sqrt(f32(var).reshape(1, -1, 1, 1) + f32(1e-3)) \
        * f32(g).reshape(1, -1, 1, 1) + f32(beta).reshape(1, -1, 1, 1)
    h = pool(h * h, 2, 2, np.mean)
    h = np.maximum(conv(h, f32(w2), None, 2, [0, 0, 0, 0]), 0)
    h = pool(h, 2, 2, np.max).reshape(2, -1)
    y = h @ f32(w3) + f32(b3)
    save("cnn", nodes, [vi("x", ["N", 1, 8, 8])], [vi("y", ["N", 4])], inits, x, y)


def act():
    """Gemm -> Sigmoid -> Reshape -> Gemm -> Tanh (exact here; polynomials on request)."""
    w1, b1 = rng.normal(size=(4, 6)), rng.normal(size=6)
    w2 = rng.normal(size=(6, 2))
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"),
        helper.make_node("Sigmoid", ["h"], ["s"], name="sig"),
        helper.make_node("Reshape", ["s", "shape"], ["s2"], name="reshape"),
        helper.make_node("Gemm", ["s2", "w2"], ["z"], name="fc2"),
        helper.make_node("Tanh", ["z"], ["y"], name="tanh"),
    ]
    inits = [t("w1", w1), t("b1", b1), t("w2", w2),
             numpy_helper.from_array(np.array([-1, 6], dtype=np.int64), "shape")]
    x = rng.uniform(-1, 1, size=(5, 4))
    h = 1 / (1 + np.exp(-(x @ f32(w1) + f32(b1))))
    y = np.tanh(h @ f32(w2))
    save("act", nodes, [vi("x", ["N", 4])], [vi("y", ["N", 2])], inits, x, y)
    # with onnx.load(path, true): the stated polynomials (doc/models.md)
    z = x @ f32(w1) + f32(b1)
    h = 0.5 + 0.15012 * z - 0.001593 * z ** 3
    z = h @ f32(w2)
    np.save(os.path.join(OUT, "act_poly_y.npy"), 0.60048 * z - 0.025488 * z ** 3)


def cryptonets():
    """The CryptoNets shape (polynomial only, for CKKS): Conv (stride 2) -> Mul x*x
    -> Flatten -> Gemm -> Pow 2 -> Gemm."""
    w1, b1 = rng.normal(size=(2, 1, 3, 3)) * 0.5, rng.normal(size=2) * 0.1
    w2, b2 = rng.normal(size=(8, 4)) * 0.5, rng.normal(size=4) * 0.1
    w3, b3 = rng.normal(size=(4, 3)) * 0.5, rng.normal(size=3) * 0.1
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv", kernel_shape=[3, 3], strides=[2, 2]),
        helper.make_node("Mul", ["c1", "c1"], ["s1"], name="square1"),
        helper.make_node("Flatten", ["s1"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["h"], name="fc1"),
        helper.make_node("Pow", ["h", "two"], ["s2"], name="square2"),
        helper.make_node("Gemm", ["s2", "w3", "b3"], ["y"], name="fc2"),
    ]
    inits = [t("w1", w1), t("b1", b1), t("w2", w2), t("b2", b2), t("w3", w3), t("b3", b3), t("two", 2.0)]
    x = rng.uniform(0, 1, size=(4, 1, 5, 5))
    h = conv(x, f32(w1), f32(b1), 2, [0, 0, 0, 0]) ** 2
    h = (h.reshape(4, -1) @ f32(w2) + f32(b2)) ** 2
    y = h @ f32(w3) + f32(b3)
    save("cryptonets", nodes, [vi("x", ["N", 1, 5, 5])], [vi("y", ["N", 3])], inits, x, y)


def refusals():
    w = t("w", rng.normal(size=(2, 1, 3, 3)))
    save("bad_group", [helper.make_node("Conv", ["x", "w"], ["y"], name="conv_g", group=2, kernel_shape=[3, 3])],
         [vi("x", [1, 2, 5, 5])], [vi("y", [1, 2, 3, 3])], [w])
    save("bad_op", [helper.make_node("Erf", ["x"], ["y"], name="erf1")],
         [vi("x", [1, 4])], [vi("y", [1, 4])], [])
    save("bad_pow", [helper.make_node("Pow", ["x", "three"], ["y"], name="cube")],
         [vi("x", [1, 4])], [vi("y", [1, 4])], [t("three", 3.0)])
    save("bad_softmax", [helper.make_node("Softmax", ["x"], ["s"], name="sm"),
                         helper.make_node("Relu", ["s"], ["y"], name="after")],
         [vi("x", [1, 4])], [vi("y", [1, 4])], [])


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    mlp()
    cnn()
    act()
    refusals()
    cryptonets()
