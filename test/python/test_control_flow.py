"""If, Loop and Scan (lib/Import/OnnxImporter.cpp, "Control flow":
subgraphs imported inline, loops and scans unrolled) against ONNX Runtime: an If on a
condition computed from the data (both branches, then a select), one on a
constant (only the branch taken, which may change the shape), a Loop with
carried values, scan outputs and a value from the enclosing graph, a Loop
ended by its condition, an If nested in a Loop's body reading the carried
value, Scan's states, axes and directions, and the refusals."""

import numpy as np
import pytest

import llmc

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

F = TensorProto.FLOAT


def vi(name, shape, t=F):
    return helper.make_tensor_value_info(name, t, shape)


def const(name, value):
    return helper.make_node("Constant", [], [name],
                            value=numpy_helper.from_array(np.asarray(value), name + "_v"))


def finish(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "cf", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def compare(m, feeds):
    want = ort.InferenceSession(m.SerializeToString()).run(None, feeds)
    got = llmc.compile(m)(**feeds)
    got = got if isinstance(got, (list, tuple)) else [got]
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


def if_on_data():
    then_g = helper.make_graph([helper.make_node("Mul", ["x", "x"], ["t"])],
                               "then", [], [vi("t", [2, 3])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])],
                               "else", [], [vi("e", [2, 3])])
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             const("zero", np.float32(0)),
             helper.make_node("Greater", ["s", "zero"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then_g,
                              else_branch=else_g)]
    return finish(nodes, [vi("x", [2, 3])], [vi("y", [2, 3])])


def test_if_on_data_takes_either_branch():
    m = if_on_data()
    compare(m, {"x": np.abs(np.random.default_rng(0).standard_normal((2, 3))).astype(np.float32)})
    compare(m, {"x": -np.abs(np.random.default_rng(1).standard_normal((2, 3))).astype(np.float32)})


def test_if_on_a_constant_imports_the_branch_taken():
    then_g = helper.make_graph([helper.make_node("ReduceSum", ["x"], ["t"], keepdims=0)],
                               "then", [], [vi("t", [])])
    else_g = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])],
                               "else", [], [vi("e", [2, 3])])
    nodes = [const("c", np.array(True)),
             helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)]
    m = finish(nodes, [vi("x", [2, 3])], [vi("y", [])])
    compare(m, {"x": np.arange(6, dtype=np.float32).reshape(2, 3)})


def loop_model(trips, stop_after=None):
    # body(i, cond, acc) -> (cond', acc + x * i, acc * w): x from the
    # enclosing graph, w an initializer of the body.
    body_nodes = [helper.make_node("Cast", ["i"], ["fi"], to=F),
                  helper.make_node("Mul", ["x", "fi"], ["xi"]),
                  helper.make_node("Add", ["acc", "xi"], ["acc2"]),
                  helper.make_node("Mul", ["acc", "w"], ["scan"])]
    if stop_after is None:
        body_nodes.append(helper.make_node("Identity", ["cond"], ["cond2"]))
    else:
        body_nodes += [const("lim", np.int64(stop_after)),
                       helper.make_node("Less", ["i", "lim"], ["cond2"])]
    body = helper.make_graph(
        body_nodes, "body",
        [vi("i", [], TensorProto.INT64), vi("cond", [], TensorProto.BOOL), vi("acc", [3])],
        [vi("cond2", [], TensorProto.BOOL), vi("acc2", [3]), vi("scan", [3])],
        [numpy_helper.from_array(np.array([0.5, -1.0, 2.0], np.float32), "w")])
    nodes = [const("M", np.int64(trips)), const("go", np.array(True)),
             helper.make_node("Loop", ["M", "go", "acc0"], ["acc", "scans"], body=body)]
    return finish(nodes, [vi("x", [3]), vi("acc0", [3])],
                  [vi("acc", [3]), vi("scans", [None, 3])])


def test_loop_carried_values_and_scan_outputs():
    feeds = {"x": np.array([1, 2, 3], np.float32), "acc0": np.array([0.5, 0, -1], np.float32)}
    compare(loop_model(4), feeds)
    compare(loop_model(1), feeds)


def test_loop_ended_by_its_condition():
    feeds = {"x": np.array([1, 2, 3], np.float32), "acc0": np.zeros(3, np.float32)}
    compare(loop_model(10, stop_after=2), feeds)  # iterations 0, 1, 2


def test_if_nested_in_a_loop_reads_the_carried_value():
    inner_then = helper.make_graph([helper.make_node("Add", ["acc", "one"], ["t"])],
                                   "then", [], [vi("t", [2])])
    inner_else = helper.make_graph([helper.make_node("Sub", ["acc", "one"], ["e"])],
                                   "else", [], [vi("e", [2])])
    body = helper.make_graph(
        [const("two", np.int64(2)),
         helper.make_node("Less", ["i", "two"], ["early"]),
         helper.make_node("If", ["early"], ["acc2"], then_branch=inner_then,
                          else_branch=inner_else),
         helper.make_node("Identity", ["cond"], ["cond2"])],
        "body",
        [vi("i", [], TensorProto.INT64), vi("cond", [], TensorProto.BOOL), vi("acc", [2])],
        [vi("cond2", [], TensorProto.BOOL), vi("acc2", [2])])
    nodes = [const("M", np.int64(5)),
             helper.make_node("Loop", ["M", "", "acc0"], ["acc"], body=body)]
    m = finish(nodes, [vi("acc0", [2])], [vi("acc", [2])],
               [numpy_helper.from_array(np.array([1.5, 0.25], np.float32), "one")])
    compare(m, {"acc0": np.array([1, 2], np.float32)})


def test_refusals_name_the_node():
    m = loop_model(3)
    m.graph.node[0].CopyFrom(helper.make_node("Identity", ["Mx"], ["M"]))
    m.graph.input.append(vi("Mx", [], TensorProto.INT64))
    with pytest.raises(llmc.CompileError, match="Loop's trip count must be known at compile time"):
        llmc.compile(m)
    then_g = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])],
                               "then", [], [vi("t", [2, 3])])
    else_g = helper.make_graph([helper.make_node("ReduceSum", ["x"], ["e"], keepdims=0)],
                               "else", [], [vi("e", [])])
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             const("zero", np.float32(0)),
             helper.make_node("Greater", ["s", "zero"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)]
    g = helper.make_graph(nodes, "cf", [vi("x", [2, 3])], [vi("y", None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    with pytest.raises(llmc.CompileError,
                       match="only a condition known at compile time may choose"):
        llmc.compile(m)


def scan_model(reverse_in=0, reverse_out=0, in_axis=0, out_axis=0):
    # body(state, x_t) -> (state + x_t, state * x_t): a running sum and the
    # products, over a [4, 3] input scanned along in_axis.
    body = helper.make_graph(
        [helper.make_node("Add", ["s", "xt"], ["s2"]),
         helper.make_node("Mul", ["s", "xt"], ["p"])],
        "body", [vi("s", [3]), vi("xt", [3])], [vi("s2", [3]), vi("p", [3])])
    x_shape = [4, 3] if in_axis == 0 else [3, 4]
    node = helper.make_node("Scan", ["s0", "x"], ["s", "ps"], body=body,
                            num_scan_inputs=1, scan_input_axes=[in_axis],
                            scan_input_directions=[reverse_in],
                            scan_output_axes=[out_axis],
                            scan_output_directions=[reverse_out])
    out_shape = [4, 3] if out_axis == 0 else [3, 4]
    return finish([node], [vi("s0", [3]), vi("x", x_shape)],
                  [vi("s", [3]), vi("ps", out_shape)])


@pytest.mark.parametrize("reverse_in,reverse_out,in_axis,out_axis",
                         [(0, 0, 0, 0), (1, 0, 0, 1), (0, 1, 1, 0), (1, 1, 1, 1)])
def test_scan_states_axes_and_directions(reverse_in, reverse_out, in_axis, out_axis):
    m = scan_model(reverse_in, reverse_out, in_axis, out_axis)
    rng = np.random.default_rng(7)
    x_shape = (4, 3) if in_axis == 0 else (3, 4)
    compare(m, {"s0": rng.standard_normal(3).astype(np.float32),
                "x": rng.standard_normal(x_shape).astype(np.float32)})
