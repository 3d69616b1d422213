"""Derives artifact payloads (as flatc JSON) from the JSON of a valid one,
for mesh-artifact-invalid.test:

    make_variants.py VALID.json OUTDIR NAME...

writes OUTDIR/NAME.json for each named variant below (NAME is the
function's name with '-' for '_'); `flatc -b` turns them into payloads and
make_artifact.py gives them a header. Each variant changes one thing of the
valid payload, so that only that thing is wrong. VALID.json is the payload
of Inputs/mesh_models.py's MLP (x [4,8,64], y [4,8,64]) compiled with
`llmc compile --mesh tp=2 --strategy megatron` (weights w1 [64,128] split
[-, tp], w2 [128,64] split [tp, -]; x and y whole), except for
axis_no_mesh, which takes the one compiled with `--strategy none --shard
x=tp,-,-` (x and y split [tp, -, -]).
"""
import copy
import json
import os
import sys


def unsplit_weights(p):
    # Every weight whole.
    for w in p["weights"]:
        w["shard_axes"] = [-1] * len(w["shape"])


def valid(p):
    # Unchanged: the JSON round trip alone.
    pass


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


def size_max(p):
    # One axis of 4096, the most the loader takes; nothing split by it.
    p["mesh"]["axis_sizes"] = [4096]
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


def axis_no_mesh(p):
    # The mesh removed, x and y still split by its axis 0: an axis of a
    # mesh the artifact does not have.
    del p["mesh"]


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


VARIANTS = [valid, names_sizes_differ, empty_mesh, no_sizes, size_zero,
            size_negative, size_too_big, size_max, too_many_devices,
            input_rank, output_rank, weight_rank, axis_too_big,
            axis_negative, axis_twice, not_divisible, axis_no_mesh, size_one,
            size_one_unsplit, no_mesh]


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    base = json.load(open(argv[0]))
    os.makedirs(argv[1], exist_ok=True)
    by_name = {v.__name__.replace("_", "-"): v for v in VARIANTS}
    for name in argv[2:]:
        if name not in by_name:
            sys.exit(f"make_variants.py: no variant '{name}'")
        p = copy.deepcopy(base)
        by_name[name](p)
        with open(os.path.join(argv[1], name + ".json"), "w") as f:
            json.dump(p, f)


if __name__ == "__main__":
    main(sys.argv[1:])
