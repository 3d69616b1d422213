"""Writes the models and .npy inputs of the llmc error tests into OUTDIR.

    make_bad_models.py OUTDIR

Everything is generated with onnx.helper and numpy, deterministically, so
the tests need no binary files in the repository. Each file is one case of
bad input (see the tests in test/llmc that use it); good.onnx and the x*.npy
files are the valid parts the run-time cases start from.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

OPSET = 13


def tensor(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def model(nodes, inputs, outputs, initializers=(), value_info=(),
          opset=OPSET, extra_opsets=()):
    graph = helper.make_graph(list(nodes), "g", list(inputs), list(outputs),
                              initializer=list(initializers),
                              value_info=list(value_info))
    opsets = [helper.make_opsetid("", opset)]
    opsets += [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(graph, opset_imports=opsets)
    m.ir_version = 7
    return m


def save(outdir, name, m):
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(m.SerializeToString())


def write(outdir, name, data):
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


F = TensorProto.FLOAT


def good():
    # y = Relu(x + b) * w, x and y [2,3] FLOAT.
    b = helper.make_tensor("b", F, [3], [0.5, -1.0, 2.0])
    w = helper.make_tensor("w", F, [2, 3], [1, 2, 3, -1, -2, -3])
    return model(
        [helper.make_node("Add", ["x", "b"], ["s"], name="add"),
         helper.make_node("Relu", ["s"], ["r"], name="relu"),
         helper.make_node("Mul", ["r", "w"], ["y"], name="mul")],
        [tensor("x", F, [2, 3])], [tensor("y", F, [2, 3])], [b, w])


def two_inputs():
    # z = a - b * 2, a [2,3] and b [3].
    two = helper.make_tensor("two", F, [], [2.0])
    return model(
        [helper.make_node("Mul", ["b", "two"], ["b2"], name="mul"),
         helper.make_node("Sub", ["a", "b2"], ["z"], name="sub")],
        [tensor("a", F, [2, 3]), tensor("b", F, [3])],
        [tensor("z", F, [2, 3])], [two])


def external(location, offset=None, length=None):
    # y = x + w with w [2,3] FLOAT in external data.
    w = TensorProto()
    w.name = "w"
    w.data_type = F
    w.dims.extend([2, 3])
    w.data_location = TensorProto.EXTERNAL
    entries = [("location", location)]
    if offset is not None:
        entries.append(("offset", str(offset)))
    if length is not None:
        entries.append(("length", str(length)))
    for k, v in entries:
        e = w.external_data.add()
        e.key = k
        e.value = v
    return model([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                 [tensor("x", F, [2, 3])], [tensor("y", F, [2, 3])], [w])


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)

    # --- files that are not models ---------------------------------------
    data = good().SerializeToString()
    save(outdir, "good.onnx", good())
    write(outdir, "truncated.onnx", data[: len(data) // 2])
    write(outdir, "text.onnx", b"This is a text file, not an ONNX model.\n")
    write(outdir, "random.onnx",
          np.random.default_rng(7).integers(0, 256, 512, np.uint8).tobytes())
    write(outdir, "empty.onnx", b"")
    save(outdir, "empty_graph.onnx", model([], [], []))

    # --- ops, opsets, domains ---------------------------------------------
    save(outdir, "nonzero.onnx", model(
        [helper.make_node("NonZero", ["x"], ["y"], name="nz")],
        [tensor("x", F, [2, 3])], [tensor("y", TensorProto.INT64, [2, "n"])]))
    # An unknown op at opset 13 meets libonnx's checker (opsets <= 17), at
    # opset 18 only llmc's own checks.
    save(outdir, "unknown_op.onnx", model(
        [helper.make_node("FrobnicateTensor", ["x"], ["y"], name="frob")],
        [tensor("x", F, [2, 3])], [tensor("y", F, [2, 3])]))
    save(outdir, "unknown_op18.onnx", model(
        [helper.make_node("FrobnicateTensor", ["x"], ["y"], name="frob")],
        [tensor("x", F, [2, 3])], [tensor("y", F, [2, 3])], opset=18))
    save(outdir, "crop.onnx", model(  # a removed experimental op
        [helper.make_node("Crop", ["x"], ["y"], name="crop")],
        [tensor("x", F, [1, 1, 2, 3])], [tensor("y", F, [1, 1, 2, 3])]))
    save(outdir, "opset30.onnx", model(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [tensor("x", F, [2, 3])], [tensor("y", F, [2, 3])], opset=30))
    save(outdir, "domain.onnx", model(
        [helper.make_node("Relu", ["x"], ["y"], name="custom_relu",
                          domain="com.example")],
        [tensor("x", F, [2, 3])], [tensor("y", F, [2, 3])],
        extra_opsets=[("com.example", 1)]))

    # --- inconsistent shapes, structure -----------------------------------
    save(outdir, "output_shape.onnx", model(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [tensor("x", F, [2, 3])], [tensor("y", F, [3, 2])]))
    save(outdir, "value_info_shape.onnx", model(
        [helper.make_node("Relu", ["x"], ["r"], name="relu"),
         helper.make_node("Neg", ["r"], ["y"], name="neg")],
        [tensor("x", F, [2, 3])], [tensor("y", F, [2, 3])],
        value_info=[tensor("r", F, [2, 4])]))
    save(outdir, "matmul.onnx", model(
        [helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")],
        [tensor("a", F, [2, 3]), tensor("b", F, [4, 5])],
        [tensor("y", F, [2, 5])]))
    save(outdir, "broadcast.onnx", model(
        [helper.make_node("Add", ["a", "b"], ["y"], name="add")],
        [tensor("a", F, [2, 3]), tensor("b", F, [4])],
        [tensor("y", F, [2, 3])]))
    save(outdir, "cycle.onnx", model(
        [helper.make_node("Relu", ["t2"], ["t1"], name="first"),
         helper.make_node("Add", ["x", "t1"], ["t2"], name="second")],
        [tensor("x", F, [2, 3])], [tensor("t2", F, [2, 3])]))
    save(outdir, "dangling.onnx", model(
        [helper.make_node("Add", ["x", "ghost"], ["y"], name="add")],
        [tensor("x", F, [2, 3])], [tensor("y", F, [2, 3])]))

    # --- sizes that overflow or exceed memory ------------------------------
    save(outdir, "huge_input.onnx", model(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [tensor("x", F, [1000000000000, 1000000000000])],
        [tensor("y", F, [1000000000000, 1000000000000])]))
    big = helper.make_tensor("shape", TensorProto.INT64, [2],
                             [1000000, 1000000])
    save(outdir, "huge_constantofshape.onnx", model(
        [helper.make_node("ConstantOfShape", ["shape"], ["y"], name="cos")],
        [], [tensor("y", F, ["p", "q"])], [big]))
    save(outdir, "huge_expand.onnx", model(
        [helper.make_node("Expand", ["x", "shape"], ["y"], name="expand")],
        [tensor("x", F, [1, 1])], [tensor("y", F, ["p", "q"])], [big]))

    # --- external data ------------------------------------------------------
    # The models live in ext/; outside.bin lies one folder up.
    ext = os.path.join(outdir, "ext")
    os.makedirs(ext, exist_ok=True)
    weights = np.arange(6, dtype=np.float32).tobytes()
    write(ext, "w.bin", weights)
    write(outdir, "outside.bin", weights)
    link = os.path.join(ext, "link.bin")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.join("..", "outside.bin"), link)
    save(ext, "valid.onnx", external("w.bin"))  # y = x + [0 .. 5]
    save(ext, "absolute.onnx", external(os.path.join(os.path.abspath(outdir),
                                                     "outside.bin")))
    save(ext, "dotdot.onnx", external("../outside.bin"))
    save(ext, "symlink.onnx", external("link.bin"))
    save(ext, "offset.onnx", external("w.bin", offset=16, length=24))

    # --- inputs for `llmc run` ----------------------------------------------
    save(outdir, "two_inputs.onnx", two_inputs())
    x = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]], np.float32)
    np.save(os.path.join(outdir, "x.npy"), x)
    np.save(os.path.join(outdir, "x_f64.npy"), x.astype(np.float64))
    np.save(os.path.join(outdir, "x_3x2.npy"), x.reshape(3, 2))
    np.save(os.path.join(outdir, "b.npy"), np.array([0.5, 1.5, -2.0],
                                                    np.float32))
    write(outdir, "garbage.npy", b"\x00\x01garbage, not numpy\n" * 4)
    with open(os.path.join(outdir, "x.npy"), "rb") as f:
        npy = f.read()
    write(outdir, "truncated.npy", npy[:-8])


if __name__ == "__main__":
    main()
