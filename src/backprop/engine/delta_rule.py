"""Backpropagation written out: the forward pass and the delta rule, for a batch of samples.

A batch is a matrix with one sample per row, so for layers l = 1..L with Wˡ of shape
(n_out, n_in):

    feedforward     a⁰ = X
                    uˡ = aˡ⁻¹  (or the sum / concatenation of the layer's sources)
                    zˡ = uˡ·Wˡᵀ + bˡ                       net input
                    aˡ = f(zˡ)                              activation
    error           E  = Σₙ sₙ J(aᴸₙ, yₙ)                  sₙ = 1/N, or wₙ/Σw
    backward pass   δᴸ = f'(zᴸ) ⊙ ∂J/∂aᴸ                   (= aᴸ − y for the canonical pairs)
                    ∂E/∂aˡ = Σ_c δᶜ·Wᶜ[:, columns of l]     summed over every layer c fed by l
                    δˡ = f'(zˡ) ⊙ ∂E/∂aˡ                   the delta rule
                    ∂E/∂Wˡ = Σₙ sₙ δˡₙ uˡₙᵀ = (s ⊙ δˡ)ᵀ·uˡ
                    ∂E/∂bˡ = Σₙ sₙ δˡₙ = sᵀ·δˡ

In a plain chain the only layer fed by l is l + 1, and the sum is the textbook
δˡ = f'(zˡ) ⊙ (δˡ⁺¹·Wˡ⁺¹); with skip connections it is Bishop's sum over every unit a unit
sends connections to. The deltas are per sample (row n is ∂Jₙ/∂zˡₙ); the weighting sₙ enters
only where the gradients are summed over the batch.

Every array is written with ``out=`` into the network's workspace, so a training step allocates
nothing per batch beyond a few scalars, and every array call goes through the network's backend
``xp`` (numpy, or a GPU array module), so the same lines run on either device. Where the
backend does a layer's element-wise work as one kernel (``xp.layer_kernel``: a GPU's bias with
activation, and derivative with weighting), the lines it stands for are written beside the call
and run everywhere else.
"""

from __future__ import annotations

from .losses import per_sample_loss


def predict_rows(net, X, batch_size: int):
    """aᴸ for each row of the host array X (validated), computed ``batch_size`` rows at a time.
    On a device X is copied over whole, or a batch at a time when it is larger than the device
    holds data for (``backend.streams``)."""
    xp = net.xp
    whole = not xp.streams(X.nbytes)
    if whole:
        X = xp.asarray(X)
    outputs = xp.empty((X.shape[0], net.n_outputs), net.dtype)
    for start in range(0, X.shape[0], batch_size):
        rows = X[start : start + batch_size] if whole else xp.asarray(X[start : start + batch_size])
        outputs[start : start + rows.shape[0]] = forward(net, net.workspace(rows.shape[0]), rows)
    return outputs


def forward(net, work, X, training: bool = False, rng=None):
    """# feedforward: fill zˡ and aˡ for every layer and return aᴸ (a view into ``work``)."""
    xp = net.xp
    work.a[0] = work.out[0] = X  # a⁰ = x
    for layer in net.layers[1:]:
        l = layer.index
        u = _layer_input(xp, layer, work)  # uˡ
        z = xp.matmul(u, layer.W.T, out=work.z[l])  # zˡ = uˡ·Wˡᵀ
        fused = xp.layer_kernel("forward", layer.activation, layer.size)
        if fused is not None:
            fused(layer.b, z, work.a[l])  # zˡ += bˡ and aˡ = f(zˡ) as one GPU kernel
        else:
            z += layer.b  # + bˡ
            layer.activation.function(xp, z, work.a[l])  # aˡ = f(zˡ)
        work.out[l] = work.a[l]
        if training and layer.dropout:
            work.out[l] = _drop(xp, layer.dropout, work.a[l], work.mask[l], work.dropped[l], rng)
    return work.a[net.n_layers]


def backward(net, work, Y, training: bool = False, on_layer_gradient=None) -> None:
    """# backward pass: δᴸ, then δˡ for l = L−1 … 1, with ∂E/∂W and ∂E/∂b into ``net.grads``.

    Needs the ``forward`` of the same batch in ``work`` and sₙ set by ``work.set_scale``.
    ``on_layer_gradient(l)``, when given, is called as soon as ∂E/∂Wˡ and ∂E/∂bˡ are written,
    layers from last to first; the pass reads them no more, so the callable may start work on
    them (an all-reduce of that slice of ``net.grads``) while the pass goes on below.
    """
    xp, L = net.xp, net.n_layers
    received = [False] * (L + 1)  # has ∂E/∂aˡ had its first term yet?
    for layer in reversed(net.layers[1:]):
        l = layer.index
        delta = work.delta[l]
        weighted = work.weighted(delta.shape)  # sₙδₙ
        if l == L:
            _output_delta(xp, net.loss, layer.activation, work, Y, weighted)  # δᴸ
        else:
            error = work.error[l]  # ∂E/∂aˡ = Σ_c δᶜ·Wᶜ[:, cols], summed below
            if training and layer.dropout:
                error *= work.mask[l]  # dropped units pass no error back
            _hidden_delta(xp, layer, work, weighted)  # δˡ = f'(zˡ) ⊙ ∂E/∂aˡ
        xp.matmul(weighted.T, work.u[l], out=layer.grad_W)  # ∂E/∂Wˡ = (s ⊙ δˡ)ᵀ·uˡ
        xp.matmul(work.scale, delta, out=layer.grad_b)  # ∂E/∂bˡ = sᵀ·δˡ
        if on_layer_gradient is not None:
            on_layer_gradient(l)
        _send_error_back(xp, layer, delta, work, received)


def _output_delta(xp, loss, activation, work, Y, weighted) -> None:
    """δᴸ = f'(zᴸ) ⊙ ∂J/∂aᴸ, or o − y where the loss is canonical for the output activation;
    and sₙδᴸₙ into ``weighted``."""
    L = len(work.a) - 1
    z, a, error, delta = work.z[L], work.a[L], work.error[L], work.delta[L]
    if loss.canonical == activation.name:
        # identity+squared, sigmoid+log_loss, softmax+cross_entropy, exp+poisson: f'(z) and
        # ∂J/∂o cancel to δᴸ = o − y, with o computed stably from z in the forward pass.
        fused = xp.layer_kernel("output_delta", activation)
        if fused is not None:
            fused(a, Y, work.weighting, delta, weighted)  # δᴸ = o − y and sₙδᴸₙ, one GPU kernel
            return
        xp.subtract(a, Y, out=delta)
    else:
        loss.gradient_function(xp, a, Y, error)  # ∂J/∂aᴸ
        activation.backward(z, a, error, delta, xp)  # δᴸ = f'(zᴸ) ⊙ ∂J/∂aᴸ (J·g for softmax)
    xp.multiply(delta, work.weighting, out=weighted)  # sₙδᴸₙ


def _hidden_delta(xp, layer, work, weighted) -> None:
    """The delta rule δˡ = f'(zˡ) ⊙ ∂E/∂aˡ, and sₙδˡₙ into ``weighted``."""
    l, activation = layer.index, layer.activation
    z, a, error, delta = work.z[l], work.a[l], work.error[l], work.delta[l]
    fused = xp.layer_kernel("delta", activation)
    if fused is not None:
        x = z if activation.derivative_of == "z" else a
        fused(x, error, work.weighting, delta, weighted)  # δˡ and sₙδˡₙ as one GPU kernel
        return
    activation.backward(z, a, error, delta, xp)  # δˡ = f'(zˡ) ⊙ ∂E/∂aˡ
    xp.multiply(delta, work.weighting, out=weighted)  # sₙδˡₙ


def _send_error_back(xp, layer, delta, work, received) -> None:
    """Add this layer's share of ∂E/∂a to each of its sources: δˡ·Wˡ[:, columns of the source]."""
    shared = None
    for source, columns in layer.sources:
        if source == 0:
            continue  # the input has no delta
        target = work.error[source]
        if layer.combine == "sum" and len(layer.sources) > 1:
            if shared is None:  # every summed source receives the same δˡ·Wˡ
                shared = xp.matmul(delta, layer.W, out=work.scratch((delta.shape[0], layer.n_in)))
            if received[source]:
                target += shared
            else:
                xp.copyto(target, shared)
        elif received[source]:
            target += xp.matmul(delta, layer.W[:, columns], out=work.scratch(target.shape))
        else:
            xp.matmul(delta, layer.W[:, columns], out=target)
        received[source] = True


def _layer_input(xp, layer, work):
    """uˡ: the one source's output, or the sum / concatenation of several."""
    if len(layer.sources) == 1:
        u = work.out[layer.sources[0][0]]
    else:
        u = work.u[layer.index]
        for i, (source, columns) in enumerate(layer.sources):
            if layer.combine == "concat":
                u[:, columns] = work.out[source]
            elif i == 0:
                xp.copyto(u, work.out[source])
            else:
                u += work.out[source]
    work.u[layer.index] = u
    return u


def _drop(xp, p, a, mask, dropped, rng):
    """Inverted dropout: keep each unit with probability 1 − p and scale survivors by 1/(1 − p)."""
    xp.uniform_into(rng, mask)
    xp.greater_equal(mask, p, out=mask)
    mask *= 1.0 / (1.0 - p)
    return xp.multiply(a, mask, out=dropped)


def batch_error(net, work, Y):
    """E = Σₙ sₙ Jₙ for the batch just run forward (J from the logits for canonical pairs), as
    a scalar of the backend: ``float()`` it where the host needs the number."""
    L = net.n_layers
    J = per_sample_loss(net.xp, net.loss, net.output_activation.name, work.z[L], work.a[L], Y)
    return work.scale @ J
