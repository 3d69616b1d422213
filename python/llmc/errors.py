"""Exceptions raised by llmc."""


class LlmcError(Exception):
    """Base of llmc's errors. `message` is the one-line description (what the
    `llmc` command prints after "error: "); `node` names the ONNX node, or the
    module path of a captured PyTorch call, when the error has one."""

    def __init__(self, message, node=None):
        super().__init__(message)
        self.message = message
        self.node = node


class CompileError(LlmcError):
    """The model could not be imported or compiled."""


class UnsupportedError(CompileError):
    """The model uses something llmc does not support (an op, a dtype, a
    target)."""


class CaptureError(UnsupportedError):
    """torch.fx could not trace the module, or a traced call has no
    translation into llmc's graph dialect."""


class LoadError(LlmcError):
    """An artifact could not be loaded (not an artifact, wrong version,
    corrupted)."""


class InputError(LlmcError, ValueError):
    """The arrays given to an executable do not match its inputs (count,
    name, shape or dtype)."""


class PipelineError(LlmcError):
    """A pass pipeline did not parse or failed; `diagnostics` holds every
    diagnostic, one per line."""

    def __init__(self, message, diagnostics=""):
        super().__init__(message)
        self.diagnostics = diagnostics
