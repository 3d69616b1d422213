"""Derives artifact payloads (as flatc JSON) from the JSON of a valid one
compiled with `llmc compile --mesh tp=2 --strategy megatron` from
Inputs/mesh_models.py's MLP (x [4,8,64], y [4,8,64], weights w1 [64,128]
split [-, tp] and w2 [128,64] split [tp, -]), for mesh-artifact-invalid.test:

    make_variants.py VALID.json OUTDIR

writes OUTDIR/NAME.json for each variant below; `flatc -b` turns them into
payloads and make_artifact.py gives them a header. Each variant changes one
thing of the valid payload, so that only that thing is wrong.
"""
import copy
import json
import os
import sys


def names_sizes_differ(p):
    # Two axis names, one size.
    p["mesh"] = {"axis_names": ["tp", "dp"], "axis_sizes": [2]}


def empty_mesh(p):
    # A mesh table with no axes.
    p["mesh"] = {"axis_names": [], "axis_sizes": []}


def no_sizes(p):
    # A mesh table with names and no sizes vector at all.
    p["mesh"] = {"axis_names": ["tp"]}


def size_zero(p):
    # An axis of size 0 (no split survives it: the splits are removed, so
    # that only the size is wrong).
    p["mesh"]["axis_sizes"] = [0]
    unsplit_weights(p)


def size_negative(p):
    p["mesh"]["axis_sizes"] = [-2]
    unsplit_weights(p)


def size_too_big(p):
    # One axis over the bound of 4096 devices; nothing split by it.
    p["mesh"]["axis_sizes"] = [4097]
    unsplit_weights(p)


def too_many_devices(p):
    # Each axis within the bound, their product (2 * 4096) over it; the
    # splits stay over tp (axis 0, size 2), which divides them.
    p["mesh"] = {"axis_names": ["tp", "dp"], "axis_sizes": [2, 4096]}


def input_rank(p):
    # x is [4,8,64]: two shard axes for three dims.
    p["inputs"][0]["shard_axes"] = [-1, -1]


def output_rank(p):
    # y is [4,8,64]: four shard axes for three dims.
    p["outputs"][0]["shard_axes"] = [-1, -1, -1, -1]


def weight_rank(p):
    # w1 is [64,128]: one shard axis for two dims.
    p["weights"][0]["shard_axes"] = [0]


def axis_too_big(p):
    # w1's dim 1 split by axis 1 of a mesh with one axis.
    p["weights"][0]["shard_axes"] = [-1, 1]


def axis_negative(p):
    # -2: below -1 (whole).
    p["weights"][1]["shard_axes"] = [-2, -1]


def axis_twice(p):
    # tp splits both dims of w1.
    p["weights"][0]["shard_axes"] = [0, 0]


def not_divisible(p):
    # A second axis dp=3 splits x's last dim (64), which 3 does not divide.
    p["mesh"] = {"axis_names": ["tp", "dp"], "axis_sizes": [2, 3]}
    p["inputs"][0]["shard_axes"] = [-1, -1, 1]


def input_axis_no_mesh(p):
    # x split by axis 0 of a mesh the artifact does not have.
    del p["mesh"]
    p["inputs"][0]["shard_axes"] = [0, -1, -1]


def unsplit_weights(p):
    for w in p["weights"]:
        w["shard_axes"] = [-1] * len(w["shape"])


def size_one(p):
    # tp=1 with every shard axis still valid (a size of 1 divides every
    # dim), but the code was compiled for 2 devices: its collectives say
    # group size 2.
    p["mesh"]["axis_sizes"] = [1]


def size_one_unsplit(p):
    # tp=1 and the weights whole.
    p["mesh"]["axis_sizes"] = [1]
    unsplit_weights(p)


def no_mesh(p):
    # The partitioned code without its mesh (and without shard axes): as a
    # version 3 artifact would be.
    del p["mesh"]
    for t in p["inputs"] + p["outputs"] + p["weights"]:
        t.pop("shard_axes", None)


VARIANTS = [names_sizes_differ, empty_mesh, no_sizes, size_zero,
            size_negative, size_too_big, too_many_devices, input_rank,
            output_rank, weight_rank, axis_too_big, axis_negative,
            axis_twice, not_divisible, input_axis_no_mesh, size_one,
            size_one_unsplit, no_mesh]


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    valid = json.load(open(argv[0]))
    os.makedirs(argv[1], exist_ok=True)
    for make in VARIANTS:
        p = copy.deepcopy(valid)
        make(p)
        name = make.__name__.replace("_", "-")
        with open(os.path.join(argv[1], name + ".json"), "w") as f:
            json.dump(p, f)


if __name__ == "__main__":
    main(sys.argv[1:])
