"""One thing the curves show, and what to change."""

from __future__ import annotations

from typing import NamedTuple

# the findings about how training went, which ``fit`` warns of; overfitting is about the data
ABOUT_TRAINING = frozenset(
    {
        "chance_level",
        "high_initial_loss",
        "lower_learning_rate",
        "large_updates",
        "dead_units",
        "saturated_units",
        "flat_loss",
        "small_updates",
        "vanishing_gradients",
        "more_epochs",
    }
)


class Finding(NamedTuple):
    """A diagnosis: ``code`` names the problem, ``message`` gives the evidence and the advice.

    >>> finding = Finding("more_epochs", "The loss was still falling: train for more epochs.")
    >>> str(finding), finding.about_training
    ('The loss was still falling: train for more epochs.', True)
    """

    code: str
    message: str

    @property
    def about_training(self) -> bool:
        """Whether the finding is about how training went (``fit`` warns of these)."""
        return self.code in ABOUT_TRAINING

    def __str__(self) -> str:
        return self.message
