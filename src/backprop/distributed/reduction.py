"""The gradient hook of a data-parallel step: Σ_r share_r·∇_r / Σ_r share_r over the ranks.

Each rank's ``net.grads`` holds the mean gradient of its batch, ∇_r = Σₙ sₙ ∂Jₙ/∂θ with
sₙ = wₙ/share_r. Multiplied by share_r it becomes the batch's summed gradient; summed over the
ranks and divided by the global share it is the mean over the global batch, exactly the
gradient one process would compute on the union of the batches.

The sum is one all-reduce of the whole flat buffer (``fused``) or one non-blocking all-reduce
per layer, started last layer first, as the backward pass produces them (``layers``), all
waited for before the update. The global share travels in its own small all-reduce started
first.
"""

from __future__ import annotations

import time

import numpy as np

FUSED_BELOW = 1 << 18  # parameters; smaller networks are reduced in one all-reduce


class GradientReduction:
    """``(grads, share) -> global share`` for ``TrainingStep.reduce_gradients``."""

    def __init__(self, collectives, net, overlap: str = "auto"):
        if overlap not in ("auto", "fused", "layers"):
            raise ValueError(f"overlap must be 'auto', 'fused' or 'layers', got {overlap!r}")
        self.collectives, self.net = collectives, net
        if overlap == "auto":
            overlap = "fused" if net.params.size < FUSED_BELOW else "layers"
        self.fused = overlap == "fused"
        self.slices = _layer_slices(net)
        self.local_share = self.global_share = 0.0
        self.seconds = 0.0  # waiting for the all-reduces (read by the benchmark)
        self.total_seconds = 0.0  # in this hook, scaling included

    def __call__(self, grads, share):
        collectives = self.collectives
        comm, MPI = collectives.comm, collectives.MPI
        self.local_share = float(share)
        started = time.perf_counter()
        grads *= self.local_share  # Σₙ wₙ ∂Jₙ/∂θ of this rank's batch
        shares = np.array([self.local_share])
        global_share = np.empty(1)
        requests = [comm.Iallreduce(shares, global_share, op=MPI.SUM)]
        if self.fused:
            requests.append(comm.Iallreduce(MPI.IN_PLACE, grads, op=MPI.SUM))
        else:
            for part in self.slices:
                requests.append(comm.Iallreduce(MPI.IN_PLACE, grads[part], op=MPI.SUM))
        waiting = time.perf_counter()
        collectives.wait(*requests)
        self.seconds += time.perf_counter() - waiting
        self.global_share = float(global_share[0])
        grads /= self.global_share  # the mean over the global batch
        self.total_seconds += time.perf_counter() - started
        return self.global_share


def _layer_slices(net) -> list[slice]:
    """Each layer's slices of the flat gradient buffer (its W, then its b), last layer first."""
    base, item = net.grads.__array_interface__["data"][0], net.grads.itemsize
    slices = []
    for layer in reversed(net.layers[1:]):
        for view in (layer.grad_W, layer.grad_b):
            if view.size:
                start = (view.__array_interface__["data"][0] - base) // item
                slices.append(slice(start, start + view.size))
    return slices
