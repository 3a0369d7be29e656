"""Batches that a captured training step gathers and logs itself, walking through the epoch.

Replaying a captured step (``graphs.GraphedStep``) is one launch, but around it the host would
still gather the batch (the inputs, the targets, the weights: a kernel each), copy it into the
graph's inputs, and copy the output and targets into the epoch's loss log
(``training.readout.LossLog``): five or six more launches a batch, each costing the host more
than the GPU. When the training data is on the GPU whole, the graph does all of that itself.
It reads which rows come next from two counters in device memory, ``cursors``:

* ``cursors[0]``, the batch's first position in the epoch's order: the captured step gathers
  rows ``order[cursors[0] : cursors[0] + m]`` of the data into its inputs (the 0/1 targets
  kept as uint8 widened on the way), and
* ``cursors[1]``, the first free row of the loss log: the step writes its output, the targets
  and the weights there,

then adds ``m`` to both. The host knows where the counters stand without reading them (it
counts the launches); only when they must move otherwise (a new epoch, a batch skipped or run
outside the graph, a log emptied) does it set them, one small kernel. The epoch's order is
copied once per epoch into a buffer the graph reads (an unshuffled epoch's order is
0, 1, …, n − 1). What a batch then costs the host is the launch and the optimiser's constants.

The gathered rows are the rows ``Batches.get`` gives, and the logged ones those
``LossLog.add`` copies, so a walked step computes what a step given its batch computes, bit for
bit.
"""

from __future__ import annotations

import numpy as np

from ..training.batches import Batches

GATHER = (
    "raw S source, raw int64 order, raw int64 cursors, int64 width",
    "T out",
    "const long long row = order[cursors[0] + i / width];"
    " out = (T)source[row * width + i % width];",
    "backprop_gather_rows",
)
"""out[r, c] = source[order[cursors[0] + r], c]: a batch's rows gathered, widened to out's
dtype."""

GATHER_LOGGED = (
    "raw S source, raw int64 order, raw int64 cursors, int64 width",
    "T out, raw T logged",
    "const long long row = order[cursors[0] + i / width];"
    " T value = (T)source[row * width + i % width];"
    " out = value;"
    " logged[cursors[1] * width + i] = value;",
    "backprop_gather_rows_logged",
)
"""``GATHER``, the rows written as well into ``logged`` from its row ``cursors[1]`` on."""

LOG = (
    "T values, raw int64 cursors, int64 width",
    "raw T logged",
    "logged[cursors[1] * width + i] = values;",
    "backprop_log_rows",
)
"""logged[cursors[1] + r, c] = values[r, c]: a batch's output written into the loss log."""

SET_CURSORS = (
    "int64 position, int64 log_row",
    "int64 cursors",
    "cursors = i == 0 ? position : log_row;",
    "backprop_set_cursors",
)
"""cursors = (position, log_row), from the host without a copy."""


_NOTHING = object()


class Walk:
    """The inputs a captured step gathers its batches into, the counters it reads, and the
    epoch's order (see the module's docstring)."""

    def __init__(self, xp, batches: Batches, log) -> None:
        data, size = batches.data, batches.size
        self.xp, self.data, self.log, self.rows = xp, data, log, size
        self.inputs = (  # in the dtypes ``Batches.get`` gives
            xp.empty((size, data.X.shape[1]), data.X.dtype),
            xp.empty((size, data.Y.shape[1]), batches.target_dtype),
            None if data.weights is None else xp.empty(size, data.weights.dtype),
        )
        self.order = xp.empty(batches.n, np.int64)
        self.cursors = xp.zeros(2, np.int64)
        self.at = (0, 0)  # where the host knows the cursors stand
        self.source = _NOTHING  # the order the buffer holds (None: 0, 1, …, n − 1)
        cupy = xp.module
        self.gather, self.gather_logged, self.log_rows, self.set_cursors = (
            cupy.ElementwiseKernel(*source) for source in (GATHER, GATHER_LOGGED, LOG, SET_CURSORS)
        )

    @staticmethod
    def suits(batches, log) -> bool:
        """Whether a step can walk through ``batches``: data on the GPU whole (not streamed),
        and a log with arrays to write into (``fits`` checks, batch by batch, that it has
        room)."""
        return isinstance(batches, Batches) and log.capacity > 0

    def fits(self, start: int) -> bool:
        """Whether a full batch starts at ``start`` and the log has room for it: the graph
        reads and writes where the counters say, with no bounds of its own."""
        rows = self.rows
        return start + rows <= self.order.shape[0] and self.log.used + rows <= self.log.capacity

    def prepare(self, order, start: int) -> None:
        """Queue what puts the counters at the batch starting at ``start`` of ``order`` (None:
        the data's own order), logged at the log's next free row; the step that follows moves
        them on by a batch."""
        if order is not self.source:
            if order is None:
                self.order[...] = self.xp.arange(self.order.shape[0], dtype=np.int64)
            else:
                self.xp.copyto(self.order, order)
            self.source = order
        wanted = (start, self.log.used)
        if wanted != self.at:
            self.set_cursors(*wanted, self.cursors)
        self.at = (start + self.rows, self.log.used + self.rows)

    def step_inputs(self):
        """Gather the batch into the step's inputs, targets and weights logged on the way:
        part of what the graph records."""
        data, log, (X, Y, weights) = self.data, self.log, self.inputs
        self.gather(data.X, self.order, self.cursors, X.shape[1], X)
        self.gather_logged(data.Y, self.order, self.cursors, Y.shape[1], Y, log.targets)
        if weights is not None:
            self.gather_logged(data.weights, self.order, self.cursors, 1, weights, log.weights)
        return self.inputs

    def log_and_advance(self, work) -> None:
        """Write the step's output into the log and move both counters on by a batch: the
        end of what the graph records."""
        output = self.log.output(work)
        self.log_rows(output, self.cursors, output.shape[1], self.log.outputs)
        self.cursors += self.rows
