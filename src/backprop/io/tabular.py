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
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .atomic import atomic_write

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
    backprop.io.tabular.DataError: /dev/null: is a character device, not a CSV file
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


def read_csv(path: str | os.PathLike) -> Table:
    """Read a CSV file with a header row; blank lines are skipped, every row needs every field."""
    path = check_regular_file(path, "CSV file")
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


def label_strings(target: Target) -> tuple[list[str], str]:
    """Each row's label as a canonical string, and the label type ("int", "float" or "str")."""
    if not target.is_numeric:
        return list(target.texts), "str"
    if is_integer_valued(target.numbers):
        return [str(int(v)) for v in target.numbers], "int"
    return [repr(float(v)) for v in target.numbers], "float"


def sort_classes(labels: Iterable[str], label_type: str) -> list[str]:
    unique = set(labels)
    if label_type == "str":
        return sorted(unique)
    return sorted(unique, key=float)


def encode_labels(
    table: Table, name: str, target: Target, classes: list[str], label_type: str
) -> np.ndarray:
    """Class indices 0..K-1 of the target; -1 for labels the model has never seen."""
    if label_type == "str":
        labels = target.texts
    else:
        if not target.is_numeric:
            row = next(i for i, text in enumerate(target.texts) if not _is_number(text))
            raise DataError(
                f"{table.where(row, name)}: {target.texts[row]!r} is not a number, but the "
                f"model's classes are numbers ({label_type})"
            )
        numbers = target.numbers
        if label_type == "int":
            labels = [str(int(v)) if v == round(v) else repr(float(v)) for v in numbers]
        else:
            labels = [repr(float(v)) for v in numbers]
    lookup = {label: i for i, label in enumerate(classes)}
    return np.array([lookup.get(label, -1) for label in labels], dtype=np.int64)


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
    "check_regular_file",
    "encode_labels",
    "infer_task",
    "label_strings",
    "read_csv",
    "read_target",
    "sort_classes",
    "write_csv_atomic",
]
