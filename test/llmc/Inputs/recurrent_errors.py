"""Writes recurrent-op models that llmc refuses, one per error, into DIR:

    recurrent_errors.py DIR

as ONNX text (no onnx package needed). See error-recurrent.test.
"""
import os
import sys

HEAD = '<ir_version: 8, opset_import: ["" : 14]>\n'
W = "float[1,{g},2] W = {{{w}}}, float[1,{g2},{h}] R = {{{r}}}"


def weights(gates, hidden=2):
    g = gates * hidden
    return W.format(g=g, g2=g, h=hidden, w=", ".join(["0.5"] * (g * 2)),
                    r=", ".join(["0.25"] * (g * hidden)))


MODELS = {
    "direction": ("float[3,1,2] X", "float[3,1,1,2] Y",
                  weights(1), 'RNN <hidden_size = 2, direction = "sideways">'),
    "hidden": ("float[3,1,2] X", "float[3,1,1,3] Y",
               weights(1), "RNN <hidden_size = 3>"),
    "clip": ("float[3,1,2] X", "float[3,1,1,2] Y",
             weights(3), "GRU <hidden_size = 2, clip = -1.0>"),
    "integer": ("int32[3,1,2] X", "float[3,1,1,2] Y",
                weights(4), "LSTM <hidden_size = 2>"),
}


def main(d):
    os.makedirs(d, exist_ok=True)
    for name, (x, y, inits, op) in MODELS.items():
        with open(os.path.join(d, name + ".onnxtxt"), "w") as f:
            f.write(HEAD + f"g ({x}) => ({y})\n<{inits}>\n{{\n"
                    f"  Y = {op} (X, W, R)\n}}\n")


if __name__ == "__main__":
    main(sys.argv[1])
