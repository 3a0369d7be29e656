"""Mini-batches of the training data, in order or gathered through a permutation, on the
network's backend."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Data:
    """Validated samples on the network's backend: inputs, targets and optional weights."""

    X: object
    Y: object
    weights: object = None


class Batches:
    """Mini-batches of the training data, in order or gathered through a permutation.

    A small data set (at most ``WHOLE_BYTES``) is gathered through the permutation once per
    epoch into buffers allocated once, and its batches are slices of them. A larger one is
    gathered one batch at a time into buffers of one batch, so shuffling never costs a second
    copy of the data. Without shuffling, a batch is a view. Targets that are all 0 or 1
    (one-hot classes, binary labels) are kept as uint8 when that saves at least
    ``COMPACT_BYTES``, and each batch is widened back to the network's dtype.
    """

    COMPACT_BYTES = 1 << 20
    WHOLE_BYTES = 1 << 20

    def __init__(self, xp, data: Data, size: int):
        self.xp = xp
        self.size, self.n = size, data.X.shape[0]
        self.weighted = data.weights is not None
        Y = data.Y
        self.target_dtype = Y.dtype  # the batches' targets: 0/1 kept as uint8 are widened back
        if Y.nbytes - Y.size >= self.COMPACT_BYTES and bool(((Y == 0) | (Y == 1)).all()):
            Y = Y.astype(xp.uint8)
        self.data = Data(data.X, Y, data.weights)
        self.whole = data.X.nbytes + Y.nbytes <= self.WHOLE_BYTES
        self.shuffled = None  # the permutation the whole-set buffers hold
        rows = self.n if self.whole else size
        self.X = xp.empty((rows, data.X.shape[1]), data.X.dtype)
        self.Y = xp.empty((rows, Y.shape[1]), Y.dtype)
        self.weights = None if data.weights is None else xp.empty(rows, data.weights.dtype)
        self.widened = (
            None if Y.dtype == data.Y.dtype else xp.empty((size, Y.shape[1]), data.Y.dtype)
        )

    def get(self, order, start: int):
        """(X, Y, weights) of the batch that starts at ``start``."""
        rows = slice(start, start + self.size)
        if order is None:
            source = self.data
        elif self.whole:
            if self.shuffled is not order:
                self._gather(order)
                self.shuffled = order
            source = self
        else:
            m = self._gather(order[rows])
            source, rows = self, slice(0, m)
        weights = None if source.weights is None else source.weights[rows]
        return source.X[rows], self._widen(source.Y[rows]), weights

    def _gather(self, picked) -> int:
        m = picked.shape[0]
        data, xp = self.data, self.xp
        xp.gather_rows(data.X, picked, self.X[:m])
        xp.gather_rows(data.Y, picked, self.Y[:m])
        if data.weights is not None:
            xp.gather_rows(data.weights, picked, self.weights[:m])
        return m

    def _widen(self, Y):
        if self.widened is None:
            return Y
        out = self.widened[: Y.shape[0]]
        self.xp.copyto(out, Y)
        return out
