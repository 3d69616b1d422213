"""Driving llmc's pass pipelines on MLIR text, for pass authors.

    >>> import llmc
    >>> out = llmc.passes.run(text, "builtin.module(canonicalize)")
    >>> [name for name, _ in llmc.passes.registered() if name.startswith("llmc-")]
"""

from . import _llmc
from .errors import PipelineError


def run(mlir, pipeline):
    """Parses `mlir` (text), runs `pipeline` (MLIR's textual pass-pipeline
    syntax, e.g. "builtin.module(llmc-decompose-composite-ops)") and returns
    the resulting IR as text. Raises PipelineError, whose `diagnostics` lists
    every diagnostic (with its location), when the text or the pipeline does
    not parse or a pass fails."""
    ok, result, diagnostics = _llmc.run_pipeline(mlir, pipeline)
    if not ok:
        first = next((l for l in diagnostics.splitlines() if l.strip()),
                     "the pipeline failed")
        raise PipelineError(first, diagnostics)
    return result


def registered():
    """Every registered pass and pass pipeline as (argument, summary)
    pairs: llmc's own passes (llmc-*) and upstream MLIR's."""
    return list(_llmc.registered_passes())
