"""What ``--search`` draws its trials from: the first trial is the default recipe, brought into
the space, and trials are scored by 5 folds below 10,000 training rows."""

import pytest

from backprop.cli.search import FOLDS, FOLDS_BELOW_ROWS, _first_trial, _suggest, default_folds
from backprop.training.recipes import Recipe, default_recipe

optuna = pytest.importorskip("optuna")


@pytest.mark.parametrize(
    "base",
    [
        default_recipe(300, 4, 3),
        default_recipe(4000, 40, 10),
        default_recipe(400, 10, 1, "regression"),
        Recipe(hidden=(64,), dropout=0.1, batch_size=16, weight_decay=0.0),
    ],
)
def test_the_first_trial_is_the_default_recipe(base):
    recipe = _suggest(optuna.trial.FixedTrial(_first_trial(base)), base)
    assert recipe.hidden == base.hidden and recipe.dropout == base.dropout
    assert (recipe.lr, recipe.batch_size) == (base.lr, base.batch_size)
    assert recipe.weight_decay == max(base.weight_decay, 1e-5)  # brought into the range


def test_a_first_trial_outside_the_space_is_brought_into_it():
    first = _first_trial(Recipe(hidden=(100, 100, 100, 100, 100), batch_size=1000))
    assert (first["depth"], first["width"], first["batch_size"]) == (3, 64, 32)
    no_hidden = _first_trial(Recipe(hidden=()))
    assert (no_hidden["depth"], no_hidden["width"]) == (1, 64)


def test_trials_are_scored_by_folds_below_the_row_limit():
    assert [default_folds(n) for n in (2, 999, 1000, FOLDS_BELOW_ROWS - 1)] == [FOLDS] * 4
    assert default_folds(FOLDS_BELOW_ROWS) == 0 and default_folds(10**6) == 0
