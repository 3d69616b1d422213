"""RNN, GRU and LSTM (lib/Import/OnnxRnnOps.cpp: unrolled over the static
sequence length) against ONNX Runtime, on what the ONNX node tests leave
out: reverse and bidirectional directions, sequence_lens shorter than the
sequence (a reverse direction then starts at each entry's last step),
initial states, peepholes, clip, batch-first layout (against ONNX Runtime
on the transposed layout-0 model, the only layout it runs), LSTM's
input_forget,
GRU's linear_before_reset (both ways), non-default activations with alpha
and beta. Tolerance: rtol 1e-5, atol 1e-5 (float32 on both sides)."""

import numpy as np
import pytest

import llmc

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

SEQ, BATCH, INPUT, HIDDEN = 5, 3, 4, 6
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def model(kind, direction="forward", lens=False, initial=False, peep=False,
          layout=0, **attrs):
    dirs = 2 if direction == "bidirectional" else 1
    g = GATES[kind]
    rng = np.random.default_rng(len(kind) * 7 + dirs + int(lens) * 3)
    f = lambda *s: (0.5 * rng.standard_normal(s)).astype(np.float32)
    inits = [helper.make_tensor("W", TensorProto.FLOAT, [dirs, g * HIDDEN, INPUT],
                                f(dirs, g * HIDDEN, INPUT).ravel()),
             helper.make_tensor("R", TensorProto.FLOAT, [dirs, g * HIDDEN, HIDDEN],
                                f(dirs, g * HIDDEN, HIDDEN).ravel()),
             helper.make_tensor("B", TensorProto.FLOAT, [dirs, 2 * g * HIDDEN],
                                f(dirs, 2 * g * HIDDEN).ravel())]
    x_shape = [BATCH, SEQ, INPUT] if layout else [SEQ, BATCH, INPUT]
    graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape)]
    ins = ["X", "W", "R", "B"]
    feeds = {"X": f(*x_shape)}
    if lens:
        graph_inputs.append(helper.make_tensor_value_info("L", TensorProto.INT32, [BATCH]))
        feeds["L"] = np.array([SEQ, 2, 4], np.int32)
    ins.append("L" if lens else "")
    state = [BATCH, dirs, HIDDEN] if layout else [dirs, BATCH, HIDDEN]
    if initial:
        graph_inputs.append(helper.make_tensor_value_info("H0", TensorProto.FLOAT, state))
        feeds["H0"] = f(*state)
    ins.append("H0" if initial else "")
    if kind == "LSTM":
        if initial:
            graph_inputs.append(helper.make_tensor_value_info("C0", TensorProto.FLOAT, state))
            feeds["C0"] = f(*state)
        ins.append("C0" if initial else "")
        if peep:
            inits.append(helper.make_tensor("P", TensorProto.FLOAT, [dirs, 3 * HIDDEN],
                                            f(dirs, 3 * HIDDEN).ravel()))
        ins.append("P" if peep else "")
    while ins[-1] == "":
        ins.pop()
    outs = ["Y", "Y_h"] + (["Y_c"] if kind == "LSTM" else [])
    node = helper.make_node(kind, ins, outs, hidden_size=HIDDEN,
                            direction=direction, layout=layout, **attrs)
    y = [BATCH, SEQ, dirs, HIDDEN] if layout else [SEQ, dirs, BATCH, HIDDEN]
    graph = helper.make_graph(
        [node], "rnn", graph_inputs,
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, y)] +
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, state) for o in outs[1:]],
        inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    m.ir_version = 8
    return m, feeds


CASES = [
    ("RNN", dict()),
    ("RNN", dict(direction="reverse", lens=True, initial=True)),
    ("RNN", dict(direction="bidirectional", layout=1, activations=["Relu", "LeakyRelu"],
                 activation_alpha=[0.0, 0.3])),
    ("GRU", dict(direction="bidirectional", lens=True)),
    ("GRU", dict(linear_before_reset=1, initial=True, clip=0.8)),
    ("GRU", dict(direction="reverse", layout=1, activations=["HardSigmoid", "Tanh"],
                 activation_alpha=[0.25], activation_beta=[0.45])),
    ("LSTM", dict(direction="bidirectional", lens=True, initial=True, peep=True)),
    ("LSTM", dict(direction="reverse", clip=1.5, layout=1)),
    ("LSTM", dict(input_forget=1, peep=True)),
    ("LSTM", dict(activations=["Sigmoid", "Softsign", "Tanh"], lens=True)),
]


@pytest.mark.parametrize("kind,options", CASES,
                         ids=[f"{k}-{'-'.join(o) or 'plain'}" for k, o in CASES])
def test_against_onnx_runtime(kind, options):
    m, feeds = model(kind, **options)
    onnx.checker.check_model(m)
    if options.get("layout"):
        # ONNX Runtime runs only layout 0: the same weights (drawn first)
        # with the inputs and outputs transposed.
        m0, _ = model(kind, **dict(options, layout=0))
        feeds0 = {k: (v.transpose(1, 0, 2) if v.ndim == 3 else v)
                  for k, v in feeds.items()}
        want = ort.InferenceSession(m0.SerializeToString()).run(None, feeds0)
        want = [want[0].transpose(2, 0, 1, 3)] + [w.transpose(1, 0, 2)
                                                   for w in want[1:]]
    else:
        want = ort.InferenceSession(m.SerializeToString()).run(None, feeds)
    exe = llmc.compile(m)
    got = exe(**feeds)
    got = got if isinstance(got, (list, tuple)) else [got]
    for name, g, w in zip(["Y", "Y_h", "Y_c"], got, want):
        assert g.shape == w.shape, (name, g.shape, w.shape)
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5, err_msg=name)


def test_errors_name_the_node():
    m, _ = model("LSTM", activations=["Sigmoid", "Swishy", "Tanh"])
    with pytest.raises(llmc.CompileError, match="activation 'Swishy' is not supported"):
        llmc.compile(m)
    m, _ = model("GRU", activations=["Sigmoid"])
    with pytest.raises(llmc.CompileError,
                       match="activations lists 1 functions; GRU with 1 direction"):
        llmc.compile(m)
