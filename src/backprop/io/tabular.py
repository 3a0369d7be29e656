"""CSV tables for the command line: reading, checking, scaling and writing, with numpy only.

A table is a CSV file with a header row. Feature columns must hold finite numbers in every row;
the target column may hold numbers or text. Every problem is reported as a ``DataError`` (a
ValueError) whose one-line message names the file and, where it applies, the line and column.

>>> import os, tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = os.path.join(tmp, "t.csv")
...     with open(path, "w") as handle:
...         _ = handle.write("x,label\\n1.5,a\\n2,b\\n")
...     table = read_csv(path)
...     X = table.numeric(["x"])
>>> table.header, X.ravel().tolist(), table.column("label")
(['x', 'label'], [1.5, 2.0], ['a', 'b'])
"""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .atomic import atomic_write
from .csv_reader import DataError, Table, read_table, release_freed_memory

CLASSIFICATION = "classification"
REGRESSION = "regression"
MAX_CLASSES_INFERRED = 20  # an integer target with more distinct values is taken as regression
LABEL_TYPES = ("int", "float", "str")


_FILE_TYPES = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def check_regular_file(path: str | os.PathLike, what: str = "file") -> str:
    """Refuse a path that is missing or not a regular file, before anything opens it.

    Opening a FIFO waits for a writer and a device may never end, so both are refused from
    ``os.stat`` alone. Returns the path as a string.

    >>> check_regular_file("/dev/null", "CSV file")
    Traceback (most recent call last):
    ...
    backprop.io.csv_reader.DataError: /dev/null: is a character device, not a CSV file
    """
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror or error})") from None
    if stat.S_ISDIR(mode):
        raise DataError(f"{path}: is a directory, not a {what}")
    if not stat.S_ISREG(mode):
        kind = _FILE_TYPES.get(stat.S_IFMT(mode), "not a regular file")
        raise DataError(f"{path}: is {kind}, not a {what}")
    return path


def read_csv(
    path: str | os.PathLike, progress: bool = False, text_columns: Collection[str] | None = None
) -> Table:
    """Read a CSV file with a header row (see ``csv_reader.read_table``); a path that is not a
    regular file is refused before anything opens it."""
    path = check_regular_file(path, "CSV file")
    return read_table(path, progress=progress, text_columns=text_columns)


# -- targets ---------------------------------------------------------------------------------


@dataclass
class Target:
    """A parsed target column: float values when every cell is a number, else the strings."""

    numbers: np.ndarray | None
    texts: list[str]

    @property
    def is_numeric(self) -> bool:
        return self.numbers is not None


def read_target(table: Table, name: str) -> Target:
    """The target column: numbers if every cell parses as one, text otherwise; none empty."""
    cells = [cell.strip() for cell in table.column(name)]
    for row, cell in enumerate(cells):
        if not cell:
            raise DataError(f"{table.where(row, name)}: empty target cell")
    try:
        numbers = np.array([float(cell) for cell in cells], dtype=np.float64)
    except ValueError:
        return Target(None, cells)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if bad.size:
        row = int(bad[0])
        raise DataError(f"{table.where(row, name)}: target {cells[row]!r} is not a finite number")
    return Target(numbers, cells)


def is_integer_valued(values: np.ndarray) -> bool:
    return bool(np.all(values == np.round(values)) and np.all(np.abs(values) < 2**53))


def infer_task(target: Target) -> str:
    """Text, or integers with at most 20 distinct values: classification; else regression."""
    if not target.is_numeric:
        return CLASSIFICATION
    values = target.numbers
    if is_integer_valued(values) and np.unique(values).size <= MAX_CLASSES_INFERRED:
        return CLASSIFICATION
    return REGRESSION


def canonical_text(value: float) -> str:
    """How a label number prints back: ``7``, ``-3``, ``0.5``; integers only in float64's exact
    range (below 2**53), so distinct texts never stand for the same number.

    >>> canonical_text(7.0), canonical_text(0.5), canonical_text(2.0**60)
    ('7', '0.5', '1.152921504606847e+18')
    """
    if value == round(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def label_strings(target: Target) -> tuple[list[str], str]:
    """Each row's label as written, and the label type ("int", "float" or "str").

    The labels are numbers only when every cell is written exactly as its number prints back
    (``canonical_text``); otherwise they are text, so ``007`` stays ``007`` and ``1`` and
    ``1.0`` stay two classes.

    >>> label_strings(Target(np.array([7.0, 42.0]), ["7", "42"]))
    (['7', '42'], 'int')
    >>> label_strings(Target(np.array([7.0, 42.0]), ["007", "42"]))
    (['007', '42'], 'str')
    """
    return list(target.texts), label_type_of(target)


def label_type_of(target: Target) -> str:
    """The label type: numbers ("int", "float") when every label is canonical, else "str"."""
    if not target.is_numeric:
        return "str"
    # one entry per distinct text
    number_of = dict(zip(target.texts, target.numbers.tolist(), strict=True))
    if any(canonical_text(value) != text for text, value in number_of.items()):
        return "str"
    return "int" if is_integer_valued(np.array(list(number_of.values()))) else "float"


def first_non_canonical(target: Target) -> str | None:
    """The first numeric label not written as its number prints back (``007``, ``1.0``)."""
    if not target.is_numeric:
        return None
    for text, value in zip(target.texts, target.numbers.tolist(), strict=True):
        if canonical_text(value) != text:
            return text
    return None


def sort_classes(labels: Iterable[str], label_type: str) -> list[str]:
    unique = set(labels)
    if label_type == "str":
        return sorted(unique)
    return sorted(unique, key=float)


def encode_labels(
    table: Table, name: str, target: Target, classes: list[str], label_type: str
) -> np.ndarray:
    """Class indices 0..K-1 of the target; -1 for labels the model has never seen.

    Text classes match the cells' text; number classes match by value, which also reads the
    class names of older model files (``7`` for ``007``, ``1.0`` for ``1``).
    """
    if label_type == "str":
        lookup = {label: i for i, label in enumerate(classes)}
        return np.array([lookup.get(label, -1) for label in target.texts], dtype=np.int64)
    if not target.is_numeric:
        row = next(i for i, text in enumerate(target.texts) if not _is_number(text))
        raise DataError(
            f"{table.where(row, name)}: {target.texts[row]!r} is not a number, but the "
            f"model's classes are numbers ({label_type})"
        )
    by_value = {float(label): i for i, label in enumerate(classes)}
    return np.array([by_value.get(v, -1) for v in target.numbers.tolist()], dtype=np.int64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- writing ---------------------------------------------------------------------------------


def format_number(value: float) -> str:
    return format(float(value), ".8g")


def write_csv_atomic(path: str | os.PathLike, header: Sequence[str], rows: Iterable) -> None:
    """Write a CSV file so that readers see the old file or the complete new one."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    try:
        atomic_write(path, text.getvalue().encode("utf-8"))
    except OSError as error:
        raise DataError(f"{os.fspath(path)}: cannot write ({error.strerror or error})") from None


def check_output_path(path: str | os.PathLike, option: str = "--out") -> str:
    """Refuse an output path whose directory is missing or that is a directory itself."""
    path = os.fspath(path)
    if not path:
        raise DataError(f"{option} needs a file name")
    if os.path.isdir(path):
        raise DataError(f"{option} {path}: is a directory")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise DataError(f"{option} {path}: the directory {directory} does not exist")
    return path


__all__ = [
    "CLASSIFICATION",
    "REGRESSION",
    "DataError",
    "Table",
    "Target",
    "check_output_path",
    "canonical_text",
    "check_regular_file",
    "encode_labels",
    "first_non_canonical",
    "infer_task",
    "label_strings",
    "label_type_of",
    "read_csv",
    "read_target",
    "release_freed_memory",
    "sort_classes",
    "write_csv_atomic",
]
