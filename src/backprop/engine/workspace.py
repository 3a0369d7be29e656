"""Work arrays for one batch size, allocated once and reused every batch.

The forward and backward passes write every intermediate with ``out=`` into these arrays, so a
training step allocates nothing per batch beyond a few scalars.
"""

from __future__ import annotations


class Workspace:
    """The work arrays for batches of ``n`` rows, allocated once and reused every batch.

    Per layer l: ``z[l]``, ``a[l]``, ``error[l]`` (∂E/∂aˡ, the error arriving at the outputs),
    ``delta[l]`` (δˡ = ∂E/∂zˡ per sample), ``u[l]`` (the layer's input when it combines several
    sources), and for dropout layers ``mask[l]`` and ``dropped[l]``. ``scale`` holds sₙ, each
    sample's share of the batch error.
    """

    def __init__(self, net, n: int):
        xp, dtype, L = net.xp, net.dtype, net.n_layers
        sizes = [layer.size for layer in net.layers]

        def per_layer(condition=lambda layer: True):
            return [None] + [
                xp.empty((n, layer.size), dtype) if condition(layer) else None
                for layer in net.layers[1:]
            ]

        self.n = n
        self.z = per_layer()
        self.a = per_layer()
        self.error = per_layer()
        self.delta = per_layer()
        self.mask = per_layer(lambda layer: layer.dropout > 0)
        self.dropped = per_layer(lambda layer: layer.dropout > 0)
        self.u = [None] + [
            xp.empty((n, layer.n_in), dtype) if len(layer.sources) > 1 else None
            for layer in net.layers[1:]
        ]
        self.out = [None] * (L + 1)  # what consumers read: aˡ, or its dropped-out version
        self.scale = xp.empty(n, dtype)
        self.weighting = None
        # 1/N as a 0-d array: numpy multiplies by it faster than by a Python float
        self._uniform = xp.full((), 1.0 / n, dtype)
        widest = max(max(sizes), max(layer.n_in for layer in net.layers[1:]))
        self._scratch = xp.empty(n * widest, dtype)
        self._weighted = xp.empty(n * max(sizes[1:]), dtype)
        self._weighted_views: dict = {}

    def scratch(self, shape):
        """A contiguous temporary of ``shape`` (rows ≤ n), valid until the next call."""
        return self._scratch[: shape[0] * shape[1]].reshape(shape)

    def weighted(self, shape):
        """A contiguous temporary for sₙ·δₙ."""
        view = self._weighted_views.get(shape)
        if view is None:
            view = self._weighted[: shape[0] * shape[1]].reshape(shape)
            self._weighted_views[shape] = view
        return view

    def set_scale(self, sample_weight=None):
        """sₙ = 1/N, or wₙ / Σw with sample weights (all 0 when every weight is 0).

        Returns the batch's share of the data: N, or Σw as a scalar of the backend, which the
        host does not wait for. ``weighting`` is what δ is multiplied by to weight each row: sₙ
        as a column, or the scalar 1/N (a 0-d array) when every sample counts the same (a
        cheaper multiplication).
        """
        if sample_weight is None:
            if self.weighting is not self._uniform:  # filled once, not every batch
                self.scale.fill(1.0 / self.n)
                self.weighting = self._uniform
            return self.n
        self.scale[...] = sample_weight
        total = sample_weight.sum()  # Σw
        self.scale /= total + (total == 0)  # sₙ = wₙ / Σw, or 0 when every weight is 0
        self.weighting = self.scale[:, None]
        return total
