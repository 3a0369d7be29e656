"""The files a command writes: it replaces only files of its own kind, never one of its inputs.

``train --out`` replaces only a model file written by backprop (not a checkpoint);
``train --checkpoint`` only a checkpoint (and ``PATH.prev`` only a checkpoint); ``predict --out``
only a prediction file, a CSV whose header has a ``prediction`` column. No output may be an input
of the same command or another of its outputs, compared as files (hard and symbolic links
included). A symbolic link given as an output is followed: the file it points to is replaced and
the link stays. Anything else is refused before any work starts, naming the option and the path.
"""

from __future__ import annotations

import csv
import json
import os
import stat
from dataclasses import dataclass

from ..io.tabular import check_output_path
from ..training.checkpoint import FORMAT as CHECKPOINT_FORMAT
from .errors import UsageError

MODEL, CHECKPOINT = "model", "checkpoint"
PREDICTION_COLUMN = "prediction"


def model_file_kind(path: str) -> str | None:
    """``"model"`` or ``"checkpoint"`` for a file whose header says backprop wrote it, else None.

    Only the safetensors header is read, so a file with damaged weights still counts as ours.
    """
    try:
        import safetensors

        with safetensors.safe_open(path, framework="numpy") as handle:
            header = handle.metadata() or {}
        user = json.loads(header.get("user", "{}"))
    except Exception:  # anything unreadable or foreign is not ours
        return None
    if header.get("format") != "backprop":
        return None
    return CHECKPOINT if isinstance(user, dict) and user.get("kind") == CHECKPOINT_FORMAT else MODEL


def _is_prediction_file(path: str) -> bool:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return PREDICTION_COLUMN in (name.strip() for name in header)


@dataclass(frozen=True)
class Output:
    """An output path as the user gave it (``shown``, with its option) and as written (``real``)."""

    option: str
    shown: str
    real: str

    def refuse(self, problem: str) -> UsageError:
        return UsageError(f"{self.option} {self.shown}: {problem}")


def checked_output(option: str, path: str) -> Output:
    """The checked output: its directory exists and is writable, and it is not a directory."""
    check_output_path(path, option)
    real = os.path.realpath(path)
    shown = path if real == os.path.abspath(path) else f"{path} (a link to {real})"
    output = Output(option, shown, real)
    directory = os.path.dirname(real)
    if not os.path.isdir(directory):
        raise output.refuse(f"the directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise output.refuse(f"cannot write in the directory {directory}")
    return output


def _same_file(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` name one file (links followed), or one path that is yet to be."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def existing_kind(path: str) -> str | None:
    """What the existing file at ``path`` is (``None``: nothing there)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(mode):
        return "not a regular file"
    return model_file_kind(path) or "foreign"


def _where(output: Output, path: str) -> str:
    """How a message names ``path``: nothing for the output itself, else the path."""
    return "" if path == output.real else f"{path} "


def _require_kind(output: Output, path: str, wanted: str, described: str) -> None:
    kind = existing_kind(path)
    if kind is None or kind == wanted:
        return
    what = {
        CHECKPOINT: f"is a training checkpoint, not {described}",
        MODEL: f"is a model file, not {described}",
        "foreign": f"is not {described}",
    }.get(kind, "is not a regular file")
    raise output.refuse(
        f"{_where(output, path)}exists and {what}; it is left alone: move it away or choose "
        f"another {output.option}"
    )


def refuse_inputs(output: Output, inputs: dict[str, str], path: str | None = None) -> None:
    """Refuse an output ``path`` (default: the output itself) that is one of the ``inputs``."""
    path = path or output.real
    for role, source in inputs.items():
        if _same_file(path, source):
            raise output.refuse(
                f"{_where(output, path)}is the {role} {source}; choose another file"
            )


def check_model_out(path: str, inputs: dict[str, str]) -> Output:
    """``train --out``: a new file, or a model file backprop wrote; not an input."""
    output = checked_output("--out", path)
    refuse_inputs(output, inputs)
    require_model_file(output)
    return output


def require_model_file(output: Output) -> None:
    """Refuse (again, just before replacing it) an existing ``output`` that is not a model."""
    _require_kind(output, output.real, MODEL, "a backprop model file")


def check_checkpoint(path: str, inputs: dict[str, str]) -> Output:
    """``train --checkpoint``: new files, or checkpoints at PATH and PATH.prev; not an input."""
    output = checked_output("--checkpoint", path)
    for real in (output.real, output.real + ".prev"):
        refuse_inputs(output, inputs, real)
        _require_kind(output, real, CHECKPOINT, "a backprop checkpoint")
    return output


def check_train_outputs(args) -> tuple[Output, Output | None]:
    """``train``'s --out and --checkpoint, each checked against the data and the other."""
    inputs = {"training data": args.data}
    checkpoint = None
    if args.checkpoint is not None:
        checkpoint = check_checkpoint(args.checkpoint, inputs)
        inputs.update(
            {
                "--checkpoint": checkpoint.real,
                "previous checkpoint": checkpoint.real + ".prev",
                "checkpoint's lock file": checkpoint.real + ".lock",
            }
        )
    return check_model_out(args.out, inputs), checkpoint


def check_prediction_out(path: str, inputs: dict[str, str]) -> Output:
    """``predict --out``: a new file, or a prediction file (a CSV with a prediction column)."""
    output = checked_output("--out", path)
    refuse_inputs(output, inputs)
    kind = existing_kind(output.real)
    if kind is not None and (kind != "foreign" or not _is_prediction_file(output.real)):
        raise output.refuse(
            f"exists and is not a prediction file (a CSV with a {PREDICTION_COLUMN!r} column); "
            "it is left alone: move it away or choose another --out"
        )
    return output


def check_own_output(
    option: str,
    path: str,
    inputs: dict[str, str],
    is_ours,
    what: str,
    suffixes: tuple[str, ...] = (),
    instead: str | None = None,
) -> Output:
    """An output that may replace only a file ``is_ours(path)`` accepts (``what`` names such a
    file), in an existing directory, not one of the ``inputs``; ``suffixes`` (with their dot)
    are the names it may have, the first one named in the message."""
    if suffixes and os.path.splitext(path)[1].lower() not in suffixes:
        kinds = " or ".join(suffixes) if len(suffixes) < 3 else suffixes[0]
        article = "an" if kinds[1] in "aehilmnorsx" else "a"
        raise UsageError(f"{option} must name {article} {kinds} file, got {path!r}")
    output = checked_output(option, path)
    refuse_inputs(output, inputs)
    if existing_kind(output.real) is not None and not is_ours(output.real):
        raise output.refuse(
            f"exists and is not {what}; it is left alone: move it away or choose another "
            f"{instead or option}"
        )
    return output
