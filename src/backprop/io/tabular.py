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
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from . import model_file as model_files

CLASSIFICATION = "classification"
REGRESSION = "regression"
MAX_CLASSES_INFERRED = 20  # an integer target with more distinct values is taken as regression
LABEL_TYPES = ("int", "float", "str")


class DataError(ValueError):
    """Bad data in a CSV file; the message is one line naming the file (and line, column)."""


@dataclass
class Table:
    """The header, the rows (lists of strings) and each row's line number in the file."""

    path: str
    header: list[str]
    rows: list[list[str]]
    lines: list[int]

    def __len__(self) -> int:
        return len(self.rows)

    def index(self, name: str) -> int:
        try:
            return self.header.index(name)
        except ValueError:
            raise DataError(
                f"{self.path}: no column {name!r} (columns: {', '.join(self.header)})"
            ) from None

    def column(self, name: str) -> list[str]:
        i = self.index(name)
        return [row[i] for row in self.rows]

    def missing(self, names: Iterable[str]) -> list[str]:
        present = set(self.header)
        return [name for name in names if name not in present]

    def numeric(self, names: Sequence[str]) -> np.ndarray:
        """The named columns as a float64 (n_rows, len(names)) array; every cell finite."""
        X = np.empty((len(self.rows), len(names)), dtype=np.float64)
        for j, name in enumerate(names):
            X[:, j] = self._numeric_column(name)
        return X

    def _numeric_column(self, name: str) -> np.ndarray:
        cells = self.column(name)
        try:
            values = np.asarray(cells, dtype=np.float64)
        except (TypeError, ValueError):
            values = None
        if values is not None and np.isfinite(values).all():
            return values
        for row, cell in enumerate(cells):  # the slow path finds the first bad cell
            self.cell_number(cell, row, name, "feature values")
        raise AssertionError("unreachable: a bad cell was not found")  # pragma: no cover

    def where(self, row: int, name: str) -> str:
        return f"{self.path}: line {self.lines[row]}, column {name!r}"

    def cell_number(self, cell: str, row: int, name: str, what: str) -> float:
        """A finite float from one cell, or a DataError pointing at it."""
        if not cell.strip():
            raise DataError(f"{self.where(row, name)}: empty cell ({what} cannot be missing)")
        try:
            value = float(cell)
        except ValueError:
            raise DataError(
                f"{self.where(row, name)}: {cell!r} is not a number ({what} must be numeric)"
            ) from None
        if math.isnan(value):
            raise DataError(f"{self.where(row, name)}: NaN ({what} cannot be missing)")
        if not math.isfinite(value):
            raise DataError(f"{self.where(row, name)}: {cell!r} is not a finite number")
        return value


def read_csv(path: str | os.PathLike) -> Table:
    """Read a CSV file with a header row; blank lines are skipped, every row needs every field."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            header: list[str] | None = None
            rows, lines = [], []
            for row in reader:
                if not row:
                    continue  # a blank line
                if header is None:
                    header = [name.strip() for name in row]
                    line = reader.line_num
                    continue
                if len(row) != len(header):
                    raise DataError(
                        f"{path}: line {reader.line_num} has {len(row)} fields, "
                        f"the header (line {line}) has {len(header)}"
                    )
                rows.append(row)
                lines.append(reader.line_num)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a CSV file") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except csv.Error as error:
        raise DataError(f"{path}: line {reader.line_num}: not valid CSV ({error})") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror or error})") from None
    if header is None:
        raise DataError(f"{path}: the file is empty (expected a header row and data rows)")
    for i, name in enumerate(header, start=1):
        if not name:
            raise DataError(f"{path}: line {line}: header field {i} is empty (columns need names)")
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(f"{path}: line {line}: column {name!r} appears twice in the header")
        seen.add(name)
    if not rows:
        raise DataError(f"{path}: has a header but no data rows")
    return Table(path, header, rows, lines)


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


# -- scaling and metrics ---------------------------------------------------------------------


def standardization(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (a zero deviation becomes 1)."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[~(scale > 0)] = 1.0
    return mean, scale


def r2_score(y: np.ndarray, predicted: np.ndarray) -> float:
    """1 - SS_res / SS_tot; NaN when the targets are all equal."""
    total = float(((y - y.mean()) ** 2).sum())
    if total == 0:
        return math.nan
    return 1.0 - float(((y - predicted) ** 2).sum()) / total


def format_number(value: float) -> str:
    return format(float(value), ".8g")


# -- writing ---------------------------------------------------------------------------------


def write_csv_atomic(path: str | os.PathLike, header: Sequence[str], rows: Iterable) -> None:
    """Write a CSV file so that readers see the old file or the complete new one."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    try:
        model_files.atomic_write(path, text.getvalue().encode("utf-8"))
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
    "encode_labels",
    "first_non_canonical",
    "infer_task",
    "label_strings",
    "label_type_of",
    "r2_score",
    "read_csv",
    "read_target",
    "sort_classes",
    "standardization",
    "write_csv_atomic",
]
