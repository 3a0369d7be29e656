"""Read a training History and say what to change.

``history.diagnose()`` runs the checks a practitioner runs on a finished training run, on the
loss curves and on the per-layer statistics of each epoch's last batch, and returns a
``Finding(code, message)`` for each problem, most urgent first; each message gives its numbers
and advice that fits the network (ReLU is never offered to a ReLU network).

======================  ==============================================  ======================
code                    what the evidence shows                         what to change
======================  ==============================================  ======================
chance_level            the loss ends near the chance-level loss,       what the other
                        ln C for C classes (K·ln 2 for K log-loss        findings say
                        outputs): nothing was learned
high_initial_loss       the first epoch's loss is far above that         standardise the
                        chance level, where a new network starts         inputs, or lower
                                                                         the learning rate
lower_learning_rate     the loss rises again, or swings by much of       lower the learning
                        what training gained                             rate
large_updates           ‖ΔW‖/‖W‖ per update far above the healthy        lower the learning
                        ~1e-3 in some layer                              rate
dead_units              half a hidden layer's ReLU units inactive on     lower the learning
                        every row of the batch                           rate (or leaky_relu)
saturated_units         half a hidden layer's sigmoid/tanh units at      standardise the
                        their asymptotes on 90% of the rows              inputs, smaller
                                                                         steps or weights
flat_loss               the loss barely moved from the start             scale the inputs,
                                                                         raise the rate
small_updates           ‖ΔW‖/‖W‖ far below ~1e-3 in every layer          raise the learning
                        while the loss has not halved                    rate
vanishing_gradients     early layers get far smaller deltas              ReLU and He init
                                                                         (for sigmoid/tanh)
more_epochs             the loss is still falling at the end             train for longer
overfitting             training loss far below a validation loss        regularise (l2,
                        that rose from its best                          dropout), stop early
======================  ==============================================  ======================

A healthy run gets no finding.

>>> import backprop as bp
>>> X, y = bp.datasets.two_moons(n_samples=300, seed=0)[:2]
>>> net = bp.Network([2, 16, 1], hidden="tanh", loss="log_loss", seed=0)
>>> history = net.fit(X, y, epochs=15, optimizer=bp.SGD(lr=0.05), warn=False)
>>> [finding.code for finding in history.diagnose()]
['more_epochs']
>>> net = bp.Network([2, 16, 1], hidden="tanh", loss="log_loss", seed=0)
>>> history = net.fit(X * 1000, y, epochs=30, optimizer=bp.SGD(lr=0.05), warn=False)
>>> [finding.code for finding in history.diagnose()]
['saturated_units', 'more_epochs']
>>> print(history.diagnose()[0])
Saturated units: 16 of 16 tanh units in hidden layer 1 were within 0.01 of ±1 on 90% or more
of the rows of the epoch's last batch, ... Standardise the inputs (each feature to mean 0,
variance 1; their root mean square is 803). ReLU units do not saturate.
"""

from __future__ import annotations

import numpy as np

from . import curves, units
from .evidence import Evidence
from .finding import Finding

__all__ = ["ConvergenceWarning", "Finding", "diagnose"]


class ConvergenceWarning(UserWarning):
    """Training ended while the curves still show a problem (see ``History.diagnose``)."""


def diagnose(history) -> list[Finding]:
    """The problems the recorded curves show, most urgent first (empty when none)."""
    evidence = Evidence.of(history)
    if evidence.epochs < 3 or not np.isfinite(evidence.loss).all():
        return []
    checks = (
        curves.high_initial_loss,
        curves.unstable,
        units.large_updates,
        units.dead_units,
        units.saturated_units,
        curves.flat,
        units.small_updates,
        units.vanishing_gradients,
        curves.still_falling,
        curves.overfitting,
    )
    findings = [finding for check in checks if (finding := check(evidence)) is not None]
    found = {finding.code for finding in findings}
    if "flat_loss" in found:  # a flat curve is not "still falling"
        found.discard("more_epochs")
    if "dead_units" in found:  # dead units get no gradient: that is why nothing moves
        found -= {"small_updates", "vanishing_gradients"}
    if getattr(history, "stopped_early", False):  # stopped, and the best weights kept, on
        found -= {"more_epochs", "overfitting"}  # purpose when validation stopped improving
    findings = [finding for finding in findings if finding.code in found]
    chance = curves.chance_level(evidence, explained=bool(found - {"overfitting"}))
    return ([chance] if chance is not None else []) + findings
