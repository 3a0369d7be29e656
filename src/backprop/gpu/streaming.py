"""Training data larger than the GPU's memory: kept on the host, copied over a chunk at a time.

``fit`` copies the training set to the GPU once when it fits (``streams``: up to half the
memory the GPU has free, or the limit ``set_stream_limit`` gives). A larger one stays in host
memory, and ``StreamedBatches`` serves its batches from chunks of many batches each, copied to
the GPU through two pinned host buffers and two device buffers in turn:

    host rows ─ gather (the epoch's shuffle) ─> pinned buffer s ─ copy stream ─> device buffer s
                                                                   ─ the training steps read it

While the steps of chunk k run on the GPU, chunk k + 1 is gathered on the host and copied on a
stream of its own, so the copy overlaps the compute. Events order the two: a step waits for
its chunk's copy (on the GPU, not the host), a copy into a device buffer waits for the steps
that read the chunk before it, and the host refills a pinned buffer only once its last copy
is done. The shuffle is the same permutation as for data on the GPU, read to the host once an
epoch, so a streamed fit makes the same batches, and the same network, as one whose data was
copied over whole. The rows are gathered by the host (numpy), so with shuffling the host's
memory bandwidth bounds how fast data arrives.
"""

from __future__ import annotations

import numpy as np

from ..training.batches import Data
from .switches import temporarily

CHUNK_BYTES = 128 << 20
"""How many bytes of rows (inputs and targets) each chunk holds, about."""
STREAM_SHARE = 0.5
"""Data above this share of the GPU's free memory is streamed, unless a limit is set."""
_SETTING: dict = {"limit": None}


def set_stream_limit(nbytes: int | None) -> None:
    """Stream training data larger than ``nbytes`` (0: always) instead of copying it to the GPU
    whole; ``None`` (the default) streams data larger than half the GPU's free memory."""
    if nbytes is not None and (isinstance(nbytes, bool) or not isinstance(nbytes, int)):
        raise TypeError(f"the stream limit must be a number of bytes or None, got {nbytes!r}")
    if nbytes is not None and nbytes < 0:
        raise ValueError(f"the stream limit must be >= 0 bytes, got {nbytes}")
    _SETTING["limit"] = nbytes


def stream_limit() -> int | None:
    """The limit ``set_stream_limit`` gave (``None``: half the GPU's free memory)."""
    return _SETTING["limit"]


def streaming_above(nbytes: int | None):
    """``set_stream_limit(nbytes)`` within the block; the limit before it comes back after."""
    return temporarily(stream_limit, set_stream_limit, nbytes)


def streams(cupy, nbytes: int) -> bool:
    """Whether training data of ``nbytes`` stays on the host and is streamed."""
    limit = stream_limit()
    if limit is None:
        free, _ = cupy.cuda.runtime.memGetInfo()
        limit = int(free * STREAM_SHARE)
    return nbytes > limit


class StreamedBatches:
    """``training.batches.Batches`` for inputs and targets in host memory: the same
    ``get(order, start)``, giving batches on the GPU, copied over a chunk at a time.

    ``data`` holds the inputs and targets as numpy arrays and the sample weights (if any) on
    the GPU; the weights of a batch are gathered there.
    """

    def __init__(self, xp, data: Data, size: int, chunk_bytes: int | None = None) -> None:
        cupy, chunk_bytes = xp.module, CHUNK_BYTES if chunk_bytes is None else chunk_bytes
        self.xp, self.size, self.n = xp, size, data.X.shape[0]
        self.data, self.weighted = data, data.weights is not None
        row_bytes = data.X[:1].nbytes + data.Y[:1].nbytes
        batches = max(1, chunk_bytes // max(row_bytes * size, 1))
        self.chunk = min(batches * size, -(-self.n // size) * size)  # rows, whole batches
        self.host = [self._pinned(cupy, data.X), self._pinned(cupy, data.Y)]  # [array][slot]
        self.device = [
            [xp.empty((self.chunk, *a.shape[1:]), a.dtype) for _ in range(2)]
            for a in (data.X, data.Y)
        ]
        self.weights = None if data.weights is None else xp.empty(size, data.weights.dtype)
        self.copy_stream = cupy.cuda.Stream(non_blocking=True)
        self.copied = [None, None]  # per slot: the event after its last copy
        self.read = [None, None]  # per slot: the event after the steps that read it
        self.loaded = [None, None]  # per slot: the chunk it holds, with the order it was cut by
        self.order = self.host_order = None
        self.generation = 0  # counts the orders served: a chunk cut by another is stale
        self.current = None  # the chunk of the last batch served

    def _pinned(self, cupy, array) -> list:
        count = self.chunk * int(np.prod(array.shape[1:], dtype=np.int64))
        buffers = []
        for _ in range(2):
            memory = cupy.cuda.alloc_pinned_memory(count * array.itemsize)
            flat = np.frombuffer(memory, array.dtype, count)
            buffers.append(flat.reshape((self.chunk, *array.shape[1:])))
        return buffers

    def get(self, order, start: int):
        """(X, Y, weights) of the batch that starts at ``start``, on the GPU."""
        reordered = order is not self.order
        if reordered:
            self.order, self.generation = order, self.generation + 1
            self.host_order = None if order is None else self.xp.to_host(order)
        k, slot = start // self.chunk, (start // self.chunk) % 2
        if k != self.current or reordered:
            self._enter(k)
        first = start - k * self.chunk
        m = min(self.size, self.n - start)
        X, Y = (buffers[slot][first : first + m] for buffers in self.device)
        return X, Y, self._weights(order, start, m)

    def _enter(self, k: int) -> None:
        """Serve chunk ``k`` from now on: load it unless it is there, have the steps from now on
        wait for its copy (on the GPU), and queue the next one's copy, after the steps that
        read the buffer it goes into."""
        cuda = self.xp.module.cuda
        if self.current is not None:
            event = cuda.Event()
            event.record()  # after every step queued so far, all those of the last chunk
            self.read[self.current % 2] = event
        self.current = k
        self._load(k)
        if (k + 1) * self.chunk < self.n:
            self._load(k + 1)
        cuda.get_current_stream().wait_event(self.copied[k % 2])

    def _cut(self, k: int) -> tuple:
        """What identifies chunk ``k``'s rows: unshuffled, the chunk alone."""
        return (k, None if self.order is None else self.generation)

    def _load(self, k: int) -> None:
        """Gather chunk ``k``'s rows into its pinned buffer and queue their copy to the GPU."""
        slot, cupy = k % 2, self.xp.module
        if self.loaded[slot] == self._cut(k):
            return
        if self.copied[slot] is not None:
            self.copied[slot].synchronize()  # the pinned buffer's last copy is done
        lo, hi = k * self.chunk, min((k + 1) * self.chunk, self.n)
        rows = slice(lo, hi) if self.host_order is None else self.host_order[lo:hi]
        with self.copy_stream:
            if self.read[slot] is not None:
                self.copy_stream.wait_event(self.read[slot])
            for source, pinned, device in zip(
                (self.data.X, self.data.Y), self.host, self.device, strict=True
            ):
                staged = pinned[slot][: hi - lo]
                if isinstance(rows, slice):
                    np.copyto(staged, source[rows])
                else:
                    np.take(source, rows, axis=0, out=staged)  # the epoch's shuffle
                device[slot][: hi - lo].set(staged, stream=self.copy_stream)
            event = cupy.cuda.Event()
            event.record(self.copy_stream)
        self.copied[slot] = event
        self.loaded[slot] = self._cut(k)

    def _weights(self, order, start: int, m: int):
        weights = self.data.weights
        if weights is None:
            return None
        if order is None:
            return weights[start : start + m]
        self.xp.gather_rows(weights, order[start : start + m], self.weights[:m])
        return self.weights[:m]
