"""The training step captured once as a CUDA graph and replayed for every full batch.

At a batch of a few hundred rows a step on the GPU is mostly launch overhead: some forty small
kernels (three products per layer, the activations, the output delta, the update), each
queued by Python. A CUDA graph records the whole step, forward, backward and update, once, and
replays it with one launch. ``GraphedStep`` wraps a ``TrainingStep``:

1. its first full batch runs kernel by kernel, but already in the form the graph will take
   (warming up: every kernel is compiled and every work array made before anything is
   captured);
2. its second is captured on a side stream into a graph, with a memory pool of the graph's
   own for whatever the step allocates (nothing else may reuse that memory, or a replay would
   write over it), then launched;
3. each later full batch is a launch of the graph.

A batch reaches the graph's input arrays in one of two ways. When the training data is on the
GPU whole, the loop lets the step take its batches (``GraphedStep.take``): the graph itself
gathers each batch from the data and writes its output and targets into the epoch's loss log,
at positions it reads from device memory (``walk``), so a batch costs the host the launch and
the optimiser's constants, nothing more. Batches given to the step as arrays (data streamed
from host memory) are copied into the graph's inputs before each launch.

What changes from batch to batch without the step's code running again comes in through
device memory the graph reads: the batch (in the graph's inputs), the dropout masks
(drawn into the workspace just before the launch, in the order the forward pass would draw
them), and the optimiser's constants, which Adam's bias corrections change every step: the
optimiser's update is run on the host in a recording mode of the backend that launches
nothing (``CupyBackend.recording_constants``), and what it would have passed to its kernel is
copied from pinned host memory into the buffer the captured kernel reads
(``ConstantRing``). Everything else the step computes on the host is fixed for a fit, except
the learning rate, which a schedule may change between epochs: a new rate is captured anew.

The kernels are the same in both forms and cuBLAS is called the same way (``blas.Cublas``),
so a replayed step computes bit for bit what the step computes kernel by kernel. The epoch's
last batch, which also records the layer statistics, is a form of its own (``Form``): when it
is a full batch that the graph takes itself, it warms up, is captured and replays as a second
graph, once an epoch. A batch of another size (the last, partial one), a step with a gradient
reducer, a batch that records the statistics and is given to the step as arrays, and any step
when graphs are switched off (``set_cuda_graphs(False)``, or ``with cuda_graphs(False):``) run
kernel by kernel. Should a capture fail, that form of the step (plain or recording the
statistics) goes on kernel by kernel, with a ``RuntimeWarning`` saying why.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from ..training.settings import check_flags
from .kernels import KERNELS
from .switches import temporarily
from .walk import Walk

_SETTING = {"enabled": True}


def set_cuda_graphs(enabled: bool) -> None:
    """Capture the training step as a CUDA graph (``True``, the default) or never
    (``False``): the results are the same, graphs only launch fewer kernels."""
    check_flags(enabled=enabled)
    _SETTING["enabled"] = bool(enabled)


def cuda_graphs_enabled() -> bool:
    """Whether a GPU network's training step is captured as a CUDA graph."""
    return _SETTING["enabled"]


def cuda_graphs(enabled: bool = True):
    """CUDA graphs on (or, with ``False``, off) within the block; the setting before it comes
    back after."""
    return temporarily(cuda_graphs_enabled, set_cuda_graphs, enabled)


def capture(cupy, pool, function):
    """``function()``'s GPU work captured into a graph on a side stream, nothing run yet, with
    what it allocates taken from ``pool``: returns ``(graph, what function returned)``."""
    stream = cupy.cuda.Stream(non_blocking=True)
    with cupy.cuda.using_allocator(pool.malloc), stream:
        stream.begin_capture()
        try:
            result = function()
        except BaseException:
            with contextlib.suppress(Exception):
                stream.end_capture()
            raise
        graph = stream.end_capture()
    return graph, result


class ConstantRing:
    """Pinned host rows that constants are copied to the GPU from, without the host waiting.

    A copy from pinned memory is queued and done later, so a row may not be written again
    until its copy has run: the rows are used in turn, and before the host starts on a half of
    them again it waits for the event recorded when it left that half (many steps earlier:
    in practice, never a wait).
    """

    WIDTH = max(len(source.constants) for source in KERNELS.values())
    """Constants per row: as many as the optimiser kernel that takes most (Adam's six)."""

    def __init__(self, cupy, dtype, rows: int = 512, width: int = WIDTH) -> None:
        self.cupy, self.rows, self.width = cupy, rows, width
        memory = cupy.cuda.alloc_pinned_memory(rows * width * np.dtype(dtype).itemsize)
        self.host = np.frombuffer(memory, dtype, rows * width).reshape(rows, width)
        self.left = [None, None]  # the event recorded when each half was last left
        self.next = 0

    def copy(self, values, device_buffer) -> None:
        """Queue a copy of ``values`` into ``device_buffer`` on the current stream."""
        half, row = self.rows // 2, self.next
        if row % half == 0 and self.left[row // half] is not None:
            self.left[row // half].synchronize()
        n = len(values)
        self.host[row, :n] = values
        device_buffer.set(self.host[row, :n])
        self.next = (row + 1) % self.rows
        if self.next % half == 0:
            event = self.cupy.cuda.Event()
            event.record()
            self.left[row // half] = event


class Slots:
    """The device buffers the captured optimiser kernels read their constants from, one per
    kernel call of the update, in the order the update calls them."""

    def __init__(self, xp, dtype) -> None:
        self.xp, self.dtype, self.buffers, self.position = xp, dtype, [], 0

    def made_for(self, constants: list) -> list:
        """The buffers for the calls whose constants were recorded (made on first use; a call
        that takes another number than recorded then is refused by ``next``)."""
        if not self.buffers:
            self.buffers = [self.xp.empty(len(values), self.dtype) for values in constants]
        return self.buffers

    def rewind(self) -> Slots:
        self.position = 0
        return self

    def next(self, count: int):
        """The buffer of the next kernel call, which takes ``count`` constants."""
        buffer = self.buffers[self.position]
        if buffer.shape[0] != count:
            raise RuntimeError(
                f"kernel call {self.position} takes {count} constants, not as recorded"
            )
        self.position += 1
        return buffer


class Form:
    """One form of the step as a graph: the plain step, or the step that also records the
    layer statistics (``observe``). Each warms up, is captured and replays on its own, with a
    memory pool of its own, so that neither's replays write over what the other keeps."""

    def __init__(self) -> None:
        self.warm = False
        self.key = self.graph = self.captured = self.pool = None
        self.refused = None  # why this form could not be captured: it runs kernel by kernel


class GraphedStep:
    """``step`` (a ``TrainingStep`` on a GPU network) with its full batches replayed from a
    CUDA graph; called as the step is, with the same results."""

    def __init__(self, step) -> None:
        self.step, self.net, self.xp = step, step.net, step.net.xp
        self.rows = None  # the full batch's rows: the first batch's
        self.refused = None  # why this GPU's steps cannot be captured, once that is known
        self.forms = {False: Form(), True: Form()}  # by whether the step observes
        self.inputs = None
        self.walk = None  # a ``walk.Walk`` once the step takes its batches, else False
        self.slots = Slots(self.xp, self.net.dtype)
        self.ring = None

    def __getattr__(self, name: str):
        return getattr(self.step, name)

    def __call__(self, X, Y, weights, rate, optimizer_state, observe: bool = False):
        if self.walk or not self._replayable(X.shape[0], observe):
            return self.step(X, Y, weights, rate, optimizer_state, observe)
        self.walk = False  # batches given: from now on, always
        inputs = self._stage((X, Y, weights))
        result, state = self._run(
            lambda: self._graph_form(inputs, rate, optimizer_state), rate, optimizer_state
        )
        return result._replace(
            share=_copy(result.share), penalty=_copy(result.penalty), optimizer_state=state
        )

    def take(self, batches, order, start, log, batch_number, rate, optimizer_state, observe=False):
        """Run the full batch of ``batches`` at ``start`` of ``order``, gathered and logged in
        ``log`` by the graph itself (``walk``), recording the layer statistics if ``observe``;
        ``None`` where the step is not replayed from a graph this way (the batch is then to be
        gathered and given to the step). The result's ``work``, ``share`` and statistics are
        the graph's, which its next replay overwrites."""
        if self.walk is None and self._replayable(batches.size) and Walk.suits(batches, log):
            self.walk = Walk(self.xp, batches, log)
        walk = self.walk
        if not walk or not cuda_graphs_enabled() or not walk.fits(start):
            return None
        walk.prepare(order, start)

        def walked():
            result = self._graph_form(walk.step_inputs(), rate, optimizer_state, observe)
            walk.log_and_advance(result.work)
            return result

        result, state = self._run(walked, rate, optimizer_state, observe)
        penalty = _copy(result.penalty)  # None without L2
        log.note(batch_number, walk.rows, penalty)
        return result._replace(penalty=penalty, optimizer_state=state)

    def _run(self, graph_form, rate, optimizer_state, observe: bool = False):
        """The step's result and the optimiser's state after it: replayed from the graph of
        ``graph_form`` (captured first, if the key changed), or run kernel by kernel in that
        form while warming up or where the form could not be captured. A replay's device
        scalars are the graph's own, overwritten by the next."""
        constants, state_after = self._record(rate, optimizer_state)
        self._draw_masks()
        for values, buffer in zip(constants, self.slots.made_for(constants), strict=True):
            self.ring.copy(values, buffer)
        form = self.forms[observe]
        key = (rate, self.xp.graph_key())  # the batch's shapes are the fit's, fixed
        recapture = key != form.key
        if (
            form.refused
            or not form.warm
            or (recapture and not self._capture(form, key, graph_form))
        ):
            form.warm = True
            return graph_form(), state_after  # kernel by kernel
        form.graph.launch()
        return form.captured, state_after

    def _replayable(self, rows: int, observe: bool = False) -> bool:
        if observe or self.refused or not cuda_graphs_enabled():
            return False
        if self.rows is None:
            self.rows = rows
            self.refused = self.xp.graph_refusal()
            if self.refused:
                _warn(self.refused)
                return False
        return rows == self.rows

    def _stage(self, batch: tuple) -> tuple:
        """The graph's input arrays, holding a copy of ``batch``."""
        xp = self.xp
        if self.inputs is None:
            self.inputs = tuple(None if a is None else xp.empty_like(a) for a in batch)
        for staged, array in zip(self.inputs, batch, strict=True):
            if array is not None:
                xp.copyto(staged, array)
        return self.inputs

    def _record(self, rate, optimizer_state):
        """The constants the optimiser's kernels take this step, and its state after it."""
        net = self.net
        with self.xp.recording_constants() as constants:
            state = self.step.optimizer.update(
                net.params, net.grads, optimizer_state, rate, xp=self.xp
            )
        if self.ring is None:
            self.ring = ConstantRing(self.xp.module, net.dtype)
        return constants, state

    def _draw_masks(self) -> None:
        """Each dropout layer's uniform numbers, drawn as the forward pass would draw them."""
        net = self.net
        work = net.workspace(self.rows)
        for layer in net.layers[1:]:
            if layer.dropout:
                self.xp.uniform_into(net.rng, work.mask[layer.index])

    def _graph_form(self, inputs, rate, optimizer_state, observe: bool = False):
        """The step with the optimiser's constants read from the slots and the dropout masks
        taken as drawn: what the graph records."""
        with self.xp.in_graph_form(self.slots.rewind()):
            return self.step(*inputs, rate, optimizer_state, observe=observe)

    def _capture(self, form: Form, key, graph_form) -> bool:
        """Capture ``graph_form`` for ``key`` as ``form``'s graph; ``False`` (with a warning)
        if it cannot be, after which that form runs kernel by kernel."""
        form.graph = form.captured = None
        cupy = self.xp.module
        if form.pool is None:
            form.pool = cupy.cuda.MemoryPool()
        try:  # the captured kernels take the arrays of the state, and constants from the slots
            form.graph, form.captured = capture(cupy, form.pool, graph_form)
        except Exception as error:  # CuPy's errors have no common base class
            form.refused = f"{type(error).__name__}: {error}"
            _warn(form.refused)
            return False
        form.key = key
        return True


def _copy(value):
    """A device scalar the graph overwrites on its next replay, copied; a number as it is."""
    return value.copy() if hasattr(value, "copy") else value


def _warn(reason: str) -> None:
    warnings.warn(
        f"the training step runs kernel by kernel, not as a CUDA graph: {reason}",
        RuntimeWarning,
        stacklevel=4,
    )
