"""``mpiexec -n N backprop train data.csv ...``: one network trained by N ranks, each reading
only its own rows of the CSV.

Each rank finds the line boundaries of the file in one streaming pass (nothing is kept but the
byte range of its block of rows: contiguous, in rank order, sizes differing by at most one) and
parses only the header and that block. The feature scaling comes from globally reduced sums
(the means first, then the squared deviations from them), the class list is the union of every
rank's labels, each rank holds out its share of validation rows (seeded by --seed and the
rank), training is ``fit(distributed=True)``, rank 0 holds the checkpoint's lock as the
single-process command does, and rank 0 writes the model file and prints the report, whose
scores are over every rank's rows. Cells that hold line breaks inside quotes are
not supported here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile

import numpy as np

from .. import distributed
from ..io import tabular
from ..io.tabular import CLASSIFICATION
from . import scaling
from . import train_command as single
from .errors import UsageError
from .files import Output, check_train_outputs
from .lock import checkpoint_lock
from .recipe_options import build_recipe, recipe_settings
from .reports import classification_report, regression_report, training_line
from .train_search import HELD_OUT
from .trained_model import METADATA_VERSION, save_trained_model

CHUNK = 1 << 20


def wanted(args: argparse.Namespace) -> bool:
    """A process started by mpiexec among several; ``--distributed`` insists on it."""
    if distributed.size() > 1:
        return True
    if getattr(args, "distributed", False):
        raise UsageError(
            "--distributed: this process was not started by mpiexec with several processes "
            "(or mpi4py is missing: pip install 'backprop[mpi]')"
        )
    return False


def train(args: argparse.Namespace) -> str:
    """Train across the ranks; rank 0 saves the model and returns the summary, the others ''."""
    session = distributed.session(True)
    try:
        with session.guard():
            overrides = single._check_train_options(args)
            if args.search is not None or args.plot is not None or args.folds:
                message = (
                    "--search, --folds and --plot are for one process; run them without mpiexec"
                )
                raise session.refuse(UsageError(message))
            args.validation = HELD_OUT if args.validation is None else args.validation
            out, checkpoint = check_train_outputs(args)
            with _rank_0_lock(session, checkpoint):
                return _train(args, session, overrides, out, checkpoint)
    except distributed.DistributedError as error:  # the same one line on every rank
        raise UsageError(str(error)) from None


@contextlib.contextmanager
def _rank_0_lock(session, checkpoint: Output | None):
    """Rank 0 holds the checkpoint's lock (``lock.py``) for the run; when it cannot, every
    rank stops with the single-process command's one line."""
    if checkpoint is None:
        yield
        return
    with contextlib.ExitStack() as held:
        refusal = None
        if session.rank == 0:
            try:
                held.enter_context(checkpoint_lock(checkpoint.real, checkpoint.shown))
            except UsageError as error:
                refusal = str(error)
        refusal = session.collectives.bcast(refusal)
        if refusal is not None:
            raise session.refuse(UsageError(refusal))
        yield


def _train(args, session, overrides: dict, out: Output, checkpoint: Output | None) -> str:
    rank, size = session.rank, session.size
    reduce = session.collectives
    table, features, X, n_total = _read_own_rows(args, rank, size)
    target = tabular.read_target(table, args.target)
    task = args.task or _same_everywhere(reduce, tabular.infer_task(target), "--task")
    n = len(table)
    train_rows, val_rows = _split(n, args.validation, args.seed, rank)
    mean, scale = _global_standardization(reduce, X[train_rows])
    X_train = single._scaled_rows(X, train_rows, mean, scale, table, features)
    X_val = single._scaled_rows(X, val_rows, mean, scale, table, features)
    if task == CLASSIFICATION:
        labels, label_type = tabular.label_strings(target)
        label_type = _same_everywhere(reduce, label_type, "the labels' type")
        every = reduce.allgather(sorted(set(labels)))
        classes = tabular.sort_classes([c for part in every for c in part], label_type)
        encoding = {"classes": classes, "label_type": label_type}
        Y = tabular.encode_labels(table, args.target, target, classes, label_type)
        n_out, truth = len(classes), Y
    else:
        column = target.numbers.reshape(-1, 1)
        y_mean, y_scale = _global_standardization(reduce, column[train_rows])
        encoding = {"target_mean": float(y_mean[0]), "target_scale": float(y_scale[0])}
        Y = ((column - y_mean) / y_scale)[:, 0]
        n_out, truth = 1, target.numbers
    n_train_total = int(reduce.allreduce([len(train_rows)])[0])
    recipe = build_recipe(overrides, n_train_total, len(features), n_out, task)
    net = recipe.network(len(features), n_out, task, seed=args.seed)
    validation = (X_val, Y[val_rows]) if int(reduce.allreduce([len(val_rows)])[0]) else None
    history, outcome = recipe.fit(
        net,
        X_train,
        Y[train_rows],
        validation_data=validation,
        verbose=not args.quiet,
        checkpoint=checkpoint.real if checkpoint else None,
        resume=args.resume,
        distributed=session,
    )
    report_rows = val_rows if validation is not None else train_rows
    report_X = X_val if validation is not None else X_train
    outputs = net.predict(report_X).astype(np.float64)
    gathered = reduce.allgather((outputs, truth[report_rows]))
    n_train, n_val = (int(v) for v in reduce.allreduce([len(train_rows), len(val_rows)]))
    if rank != 0:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the report is rank 0's alone
        return ""
    outputs = np.concatenate([o for o, _ in gathered])
    truth = np.concatenate([t for _, t in gathered])
    if task == CLASSIFICATION:
        shown, scores = classification_report(outputs.argmax(axis=1), truth)
    else:
        predicted = outputs[:, 0] * encoding["target_scale"] + encoding["target_mean"]
        shown, scores = regression_report(predicted, truth)
    part = "validation" if validation is not None else "training"
    settings = recipe_settings(recipe)
    settings.update(validation=args.validation, seed=args.seed, dtype="float32")
    settings.update(
        outcome={key: value for key, value in outcome.items() if key != "seconds"},
        data=os.path.basename(args.data),
        n_samples=n_total,
        n_train=n_train,
        n_validation=n_val,
        final_loss=float(history.loss[-1]),
        ranks=size,
        scores={"part": part, **scores},
    )
    metadata = {"metadata_version": METADATA_VERSION, "task": task, "target": args.target}
    metadata.update(features=features, **encoding, training=settings)
    save_trained_model(net, out, metadata, mean, scale)
    return "\n".join(
        [
            f"trained {net!r} on {size} ranks",
            f"task: {task} of {args.target!r}, {single._count(len(features), 'feature')}, "
            f"{single._count(n_train, 'training row')}",
            f"recipe: {recipe.describe()}",
            training_line(outcome),
            f"{part} {shown} on the {n_val or n_train} {part} rows of {n_total}",
            f"model saved to {args.out}",
        ]
    )


def _read_own_rows(args, rank: int, size: int):
    """(this rank's table, the feature names, its features as float64, the file's row count)."""
    header, offsets = _line_offsets(args.data)
    n_total = len(offsets) - 1
    rows = distributed.shard(n_total, rank, size)
    if not len(rows):
        raise UsageError(f"{args.data}: {n_total} rows are too few for {size} ranks")
    with open(args.data, "rb") as source, tempfile.TemporaryDirectory() as folder:
        part = os.path.join(folder, os.path.basename(args.data))
        with open(part, "wb") as sink:
            sink.write(header)
            source.seek(offsets[rows.start])
            sink.write(source.read(offsets[rows.stop] - offsets[rows.start]))
        table = tabular.read_csv(part, progress=False, text_columns=[args.target])
    features = single._feature_columns(table, args.target)
    return table, features, table.numeric(features), n_total


def _line_offsets(path: str) -> tuple[bytes, np.ndarray]:
    """The header line, and the byte offset where each data row starts (plus the end)."""
    starts, position = [], 0
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            starts.append(np.flatnonzero(np.frombuffer(chunk, np.uint8) == 10) + position + 1)
            position += len(chunk)
        source.seek(0)
        header = source.readline()
    ends = np.concatenate(starts) if starts else np.zeros(0, np.int64)
    if not len(ends) or ends[-1] != position:
        ends = np.append(ends, position)  # a last row without a line break
    offsets = np.concatenate([[len(header)], ends[ends > len(header)]])
    return header if header.endswith(b"\n") else header + b"\n", offsets


def _split(n: int, fraction: float, seed: int, rank: int):
    if fraction == 0:
        return np.arange(n), np.arange(0)
    n_val = int(round(fraction * n))
    if not 1 <= n_val < n:
        raise UsageError(f"--validation {fraction:g} of this rank's {n} rows leaves none")
    order = np.random.default_rng([seed, rank]).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _global_standardization(reduce, X: np.ndarray):
    """Column means and standard deviations over every rank's rows (a zero deviation is 1)."""
    return scaling.standardization_over_parts(
        X, reduce.allreduce, lambda values: reduce.allreduce(values, reduce.MPI.MAX)
    )


def _same_everywhere(reduce, value: str, what: str) -> str:
    values = set(reduce.allgather(value))
    if len(values) > 1:
        raise UsageError(f"the ranks' rows disagree on {what} ({', '.join(sorted(values))})")
    return value
