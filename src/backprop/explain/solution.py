"""A trace as a worked solution: its sections in the order of the derivation, and their steps.

A network no wider than ``max_units`` units is written out unit by unit, skip connections
included: forward pass, error, output deltas, hidden deltas (each summing over every layer the
unit feeds), gradients and, given a learning rate, the update and a second forward pass with
the new weights. A wider network is summarised per layer (shapes, norms, smallest and largest
values).

>>> import backprop as bp
>>> trace = bp.Network([2, 2, 1], seed=0).backprop([[1.0, 0.0]], [1.0])
>>> [section.kind for section in sections(trace, lr=0.5)]  # doctest: +NORMALIZE_WHITESPACE
['preamble', 'forward', 'forward', 'error', 'output_delta', 'hidden_delta', 'gradient',
 'gradient', 'update', 'second_forward']
>>> step = steps(trace)[0]
>>> step.section, step.layer, step.units, step.symbol
('forward', 1, (0,), Symbol(name='z', layer=1, units=(0,)))
"""

from __future__ import annotations

import numpy as np

from .backward import gradient_sections, hidden_delta_sections, update_section
from .data import Number, Prose, Section, Step, vector
from .derivation import error_section, forward_sections, output_delta_section


def sections(trace, lr: float | None = None, max_units: int = 8) -> list[Section]:
    """The worked solution of one backpropagation iteration, section by section.

    With a learning rate ``lr`` the update w ← w − η·∂E/∂w and a second forward pass follow.

    >>> import backprop as bp
    >>> trace = bp.Network([2, 2, 1], seed=0).backprop([[1.0, 0.0]], [1.0])
    >>> [section.title for section in sections(trace)][1:4]
    ['Forward pass, layer 1 (sigmoid)', 'Forward pass, layer 2 (sigmoid)', 'Error']
    >>> [section.kind for section in sections(trace, max_units=1)]
    ['preamble', 'summary', 'summary', 'error']
    """
    trace = trace.to_host()
    if max(a.shape[1] for a in trace.a) > max_units:
        return _summary(trace, lr, max_units)
    result = []
    notes = [_dtype_note(trace)]
    n = trace.a[0].shape[0]
    if n > 1:
        notes.append(
            Prose(
                f"A batch of {n} samples: unit-by-unit values (z, a, o, y, J, δ) are sample 1's; "
                f"the error E and the gradients are over the whole batch, Σₙ sₙ(…) with "
                f"sₙ = 1/{n} (or the sample weights)."
            )
        )
    result.append(Section("preamble", notes=tuple((note,) for note in notes)))
    result += forward_sections(trace)
    result.append(error_section(trace))
    result.append(output_delta_section(trace))
    result += hidden_delta_sections(trace)
    result += gradient_sections(trace)
    if lr is not None:
        result.append(update_section(trace, lr))
        result.append(second_pass_section(trace, lr))
    return result


def steps(trace, lr: float | None = None, max_units: int = 8) -> list[Step]:
    """Every equation of ``sections(trace, lr, max_units)``, in order.

    >>> import backprop as bp
    >>> trace = bp.Network([2, 2, 1], seed=0).backprop([[1.0, 0.0]], [1.0])
    >>> [(step.symbol.name, step.units) for step in steps(trace) if step.section == "gradient"][:3]
    [('dE/dw', (0, 0)), ('dE/dw', (0, 1)), ('dE/db', (0,))]
    """
    return [step for section in sections(trace, lr, max_units) for step in section.steps]


def significant_digits(dtype) -> int:
    """The significant digits a dtype carries: 7 for float32, 16 for float64.

    >>> significant_digits(np.float32), significant_digits(np.float64)
    (7, 16)
    """
    return int(np.finfo(dtype).precision) + 1


def _dtype_note(trace) -> Prose:
    dtype = trace.network.dtype
    return Prose(
        f"The network computes in {dtype.name}, which carries about "
        f"{significant_digits(dtype)} significant digits; no number is shown with more."
    )


def second_pass_section(trace, lr: float) -> Section:
    """The output and error after the update, and whether the error went down."""
    after = _after_update(trace, lr)
    verdict = " (down)." if after.loss < trace.loss else " (not down: try a smaller η)."
    which = "" if trace.a[0].shape[0] == 1 else " of sample 1"
    error = "the error" if not which else "the batch error"
    note = (
        Prose(f"New output{which} o = "),
        *vector(after.a[-1][0]),
        Prose(f"; {error} went from "),
        Number(trace.loss, versus=after.loss),
        Prose(" to "),
        Number(after.loss, versus=trace.loss),
        Prose(verdict),
    )
    title = "Second forward pass with the new weights"
    return Section("second_forward", title, None, (note,))


def _after_update(trace, lr: float):
    """The trace of the same batch through the network after one gradient descent step."""
    net = trace.network.copy()
    for layer in net.layers[1:]:
        l = layer.index
        if layer.trains("W"):
            layer.W = trace.W[l] - lr * trace.grad_W[l]
        if layer.trains("b"):
            layer.b = trace.b[l] - lr * trace.grad_b[l]
    return net.backprop(trace.a[0], trace.Y, trace.scale)


def _summary(trace, lr: float | None, max_units: int) -> list[Section]:
    introduction = Prose(
        f"This network has layers wider than {max_units} units (max_units), too large to "
        "write out unit by unit; per layer:"
    )
    result = [Section("preamble", notes=((introduction,),))]
    for l in range(1, len(trace.a)):
        arrays = {
            "W": trace.W[l],
            "z": trace.z[l],
            "a": trace.a[l],
            "δ": trace.delta[l],
            "∂E/∂W": trace.grad_W[l],
        }
        notes = tuple(_statistics(label, array) for label, array in arrays.items())
        title = f"Layer {l} ({trace.network.layers[l].activation.name})"
        result.append(Section("summary", title, l, notes))
    error = (Prose("error E = "), Number(float(trace.loss)))
    result.append(Section("error", layer=len(trace.a) - 1, notes=(error,)))
    if lr is not None:
        result.append(second_pass_section(trace, lr))
    return result


def _statistics(label: str, array) -> tuple:
    shape = "×".join(map(str, array.shape))
    return (
        Prose(f"{label}: shape {shape}, norm "),
        Number(float(np.linalg.norm(array))),
        Prose(", min "),
        Number(float(array.min())),
        Prose(", max "),
        Number(float(array.max())),
    )
