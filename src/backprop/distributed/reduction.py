"""The gradient hook of a data-parallel step: Σ_r share_r·∇_r / Σ_r share_r over the ranks.

Each rank's ``net.grads`` holds the mean gradient of its batch, ∇_r = Σₙ sₙ ∂Jₙ/∂θ with
sₙ = wₙ/share_r. Multiplied by share_r it becomes the batch's summed gradient; summed over the
ranks and divided by the global share it is the mean over the global batch, exactly the
gradient one process would compute on the union of the batches.

The sum is one all-reduce of the whole flat buffer (``fused``) or one non-blocking all-reduce
per layer (``layers``), each started from the backward pass's per-layer hook as soon as the
pass has written that layer's ∂E/∂W and ∂E/∂b (last layer first, as PyTorch DDP overlaps its
buckets), so the exchange of the upper layers runs while the pass computes the lower ones; all
are waited for before the update. The global share travels in its own small all-reduce started
first. Scaling a slice or the whole buffer by share_r gives the same numbers, so both modes
give the same updates bitwise.
"""

from __future__ import annotations

import time

import numpy as np

FUSED_BELOW = 1 << 18  # parameters; smaller networks are reduced in one all-reduce


class GradientReduction:
    """``(grads, share) -> global share`` for ``TrainingStep.reduce_gradients``, with
    ``begin(share)`` giving the backward pass its per-layer hook in the ``layers`` mode."""

    def __init__(self, collectives, net, overlap: str = "auto", during_backward: bool = True):
        if overlap not in ("auto", "fused", "layers"):
            raise ValueError(f"overlap must be 'auto', 'fused' or 'layers', got {overlap!r}")
        self.collectives, self.net = collectives, net
        if overlap == "auto":
            overlap = "fused" if net.params.size < FUSED_BELOW else "layers"
        self.fused = overlap == "fused"
        self.during_backward = during_backward and not self.fused
        self.layer_slices = _layer_slices(net)
        self.local_share = self.global_share = 0.0
        self.requests: list = []
        self.share_buffer, self.global_share_buffer = np.empty(1), np.empty(1)
        self.begun = False
        self.seconds = 0.0  # waiting for the all-reduces (read by the benchmark)
        self.total_seconds = 0.0  # in the reduction, scaling included

    def begin(self, share):
        """Before the backward pass: start the share's all-reduce and return the per-layer
        hook (None in the fused mode, which reduces after the pass)."""
        if not self.during_backward:
            return None
        started = time.perf_counter()
        self._start_share(share)
        self.begun = True
        self.total_seconds += time.perf_counter() - started
        return self.on_layer_gradient

    def on_layer_gradient(self, l: int) -> None:
        """Layer l's ∂E/∂W and ∂E/∂b are written: scale them by this rank's share and start
        their all-reduce, then let the ones already started progress."""
        started = time.perf_counter()
        comm, MPI, grads = self.collectives.comm, self.collectives.MPI, self.net.grads
        for part in self.layer_slices[l]:
            grads[part] *= self.local_share  # Σₙ wₙ ∂Jₙ/∂θ of this rank's batch, this slice
            self.requests.append(comm.Iallreduce(MPI.IN_PLACE, grads[part], op=MPI.SUM))
        MPI.Request.Testall(self.requests)
        self.total_seconds += time.perf_counter() - started

    def __call__(self, grads, share):
        comm, MPI = self.collectives.comm, self.collectives.MPI
        started = time.perf_counter()
        if not self.begun:  # the fused mode, a step without the hook, a rank without rows
            self._start_share(share)
            grads *= self.local_share  # Σₙ wₙ ∂Jₙ/∂θ of this rank's batch
            if self.fused:
                self.requests.append(comm.Iallreduce(MPI.IN_PLACE, grads, op=MPI.SUM))
            else:
                for l in sorted(self.layer_slices, reverse=True):
                    for part in self.layer_slices[l]:
                        self.requests.append(comm.Iallreduce(MPI.IN_PLACE, grads[part], op=MPI.SUM))
        requests, self.requests, self.begun = self.requests, [], False
        waiting = time.perf_counter()
        self.collectives.wait(*requests)
        self.seconds += time.perf_counter() - waiting
        self.global_share = float(self.global_share_buffer[0])
        grads /= self.global_share  # the mean over the global batch
        self.total_seconds += time.perf_counter() - started
        return self.global_share

    def _start_share(self, share) -> None:
        comm, MPI = self.collectives.comm, self.collectives.MPI
        self.local_share = self.share_buffer[0] = float(share)
        self.requests = [comm.Iallreduce(self.share_buffer, self.global_share_buffer, op=MPI.SUM)]


def _layer_slices(net) -> dict[int, list[slice]]:
    """Each layer's slices of the flat gradient buffer (its W, then its b), by layer index."""
    base, item = net.grads.__array_interface__["data"][0], net.grads.itemsize
    slices = {}
    for layer in net.layers[1:]:
        slices[layer.index] = []
        for view in (layer.grad_W, layer.grad_b):
            if view.size:
                start = (view.__array_interface__["data"][0] - base) // item
                slices[layer.index].append(slice(start, start + view.size))
    return slices
