"""Tests for backprop.schedules: schedule values, ReduceOnPlateau, get_schedule, clipping."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from backprop.schedules import (
    SCHEDULES,
    Constant,
    CosineDecay,
    ExponentialDecay,
    LambdaSchedule,
    ReduceOnPlateau,
    Schedule,
    StepDecay,
    clip_by_global_norm,
    get_schedule,
)

from backprop import schedules

# --- fixed schedules -------------------------------------------------------------------------


def test_constant():
    schedule = Constant()
    assert [schedule(epoch, 0.3) for epoch in (0, 1, 50)] == [0.3, 0.3, 0.3]
    assert repr(schedule) == "Constant()"


def test_step_decay():
    schedule = StepDecay(step_size=3, gamma=0.5)
    values = [schedule(epoch, 0.8) for epoch in range(8)]
    assert values == pytest.approx([0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2], rel=1e-15)
    assert StepDecay(step_size=1)(2, 1.0) == pytest.approx(0.01, rel=1e-15)
    assert repr(schedule) == "StepDecay(step_size=3, gamma=0.5)"


def test_exponential_decay():
    schedule = ExponentialDecay(gamma=0.9)
    for epoch in (0, 1, 5, 30):
        assert schedule(epoch, 0.2) == pytest.approx(0.2 * 0.9**epoch, rel=1e-15)
    assert ExponentialDecay(gamma=1.0)(100, 0.2) == 0.2


def test_cosine_decay():
    schedule = CosineDecay(t_max=10, min_lr=0.01)
    assert schedule(0, 0.1) == pytest.approx(0.1, rel=1e-15)
    assert schedule(5, 0.1) == pytest.approx(0.055, rel=1e-12)
    assert schedule(10, 0.1) == pytest.approx(0.01, rel=1e-12)
    assert schedule(25, 0.1) == pytest.approx(0.01, rel=1e-12)
    expected = 0.01 + 0.09 * (1 + math.cos(math.pi * 3 / 10)) / 2
    assert schedule(3, 0.1) == pytest.approx(expected, rel=1e-15)
    values = [schedule(epoch, 0.1) for epoch in range(11)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    assert CosineDecay(t_max=4)(4, 1.0) == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize(
    "schedule", [Constant(), StepDecay(2), ExponentialDecay(0.5), CosineDecay(3)], ids=repr
)
def test_fixed_schedules_are_stateless(schedule):
    before = [schedule(epoch, 1.0) for epoch in range(6)]
    schedule.observe({"loss": 1.0, "val_loss": 2.0})
    assert schedule.state() == {}
    schedule.load_state({})
    assert [schedule(epoch, 1.0) for epoch in range(6)] == before
    with pytest.raises(ValueError, match="no state"):
        schedule.load_state({"scale": 0.5})
    assert isinstance(schedule(np.int64(2), 1.0), float)


def test_epoch_must_be_a_non_negative_integer():
    with pytest.raises(ValueError, match="epoch"):
        StepDecay(2)(-1, 0.1)
    with pytest.raises(TypeError, match="epoch"):
        Constant()(1.5, 0.1)


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: StepDecay(step_size=0), "step_size"),
        (lambda: StepDecay(step_size=2, gamma=0.0), "gamma"),
        (lambda: StepDecay(step_size=2, gamma=1.5), "gamma"),
        (lambda: ExponentialDecay(gamma=-0.1), "gamma"),
        (lambda: CosineDecay(t_max=0), "t_max"),
        (lambda: CosineDecay(t_max=5, min_lr=-1.0), "min_lr"),
        (lambda: ReduceOnPlateau(factor=1.0), "factor"),
        (lambda: ReduceOnPlateau(factor=0.0), "factor"),
        (lambda: ReduceOnPlateau(patience=-1), "patience"),
        (lambda: ReduceOnPlateau(threshold=-0.1), "threshold"),
        (lambda: ReduceOnPlateau(min_lr=-0.1), "min_lr"),
        (lambda: ReduceOnPlateau(cooldown=-2), "cooldown"),
    ],
)
def test_invalid_arguments_name_the_parameter(build, name):
    with pytest.raises(ValueError, match=name):
        build()


def test_non_integer_step_size_is_a_type_error():
    with pytest.raises(TypeError, match="step_size"):
        StepDecay(step_size=2.5)


# --- ReduceOnPlateau ------------------------------------------------------------------------


def _drive(schedule: ReduceOnPlateau, losses, base_lr: float = 1.0, key: str = "val_loss"):
    """Return the rate used in each epoch while feeding ``losses`` at each epoch's end."""
    rates = []
    for epoch, loss in enumerate(losses):
        rates.append(schedule(epoch, base_lr))
        schedule.observe({key: loss})
    return rates


def test_plateau_drops_after_patience_plus_one_flat_epochs():
    schedule = ReduceOnPlateau(factor=0.5, patience=2)
    rates = _drive(schedule, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    # Epoch 0 sets the best; epochs 1-3 are flat; the third flat epoch (patience + 1) cuts.
    assert rates == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5]
    assert schedule(7, 1.0) == 0.25
    assert schedule.scale == 0.25


def test_plateau_improvement_resets_the_wait():
    schedule = ReduceOnPlateau(factor=0.5, patience=1, threshold=0.1)
    # 0.95 is not 10% better than 1.0, so it counts as flat; 0.8 is an improvement.
    rates = _drive(schedule, [1.0, 0.95, 0.8, 0.79, 0.6, 0.6, 0.6])
    assert rates == [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert schedule(7, 1.0) == 0.5
    assert schedule.best == 0.6


def test_plateau_respects_cooldown():
    flat = [1.0] * 8
    no_cooldown = _drive(ReduceOnPlateau(factor=0.5, patience=0), flat)
    assert no_cooldown == [1.0, 1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625]
    with_cooldown = _drive(ReduceOnPlateau(factor=0.5, patience=0, cooldown=2), flat)
    assert with_cooldown == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]


def test_plateau_respects_min_lr():
    schedule = ReduceOnPlateau(factor=0.1, patience=0, min_lr=0.003)
    rates = _drive(schedule, [1.0] * 6, base_lr=0.5)
    assert rates == pytest.approx([0.5, 0.5, 0.05, 0.005, 0.003, 0.003], rel=1e-12)
    assert min(rates) == 0.003


def test_plateau_monitor_fallback_and_nan():
    schedule = ReduceOnPlateau(monitor="val_loss", factor=0.5, patience=0)
    schedule.observe({"loss": 1.0})  # no val_loss: falls back to loss
    assert schedule.best == 1.0
    schedule.observe({"loss": 0.5, "val_loss": 2.0})  # val_loss wins when present
    assert schedule.scale == 0.5 and schedule.best == 1.0
    state = schedule.state()
    schedule.observe({"val_loss": float("nan")})
    assert schedule.state() == state
    with pytest.raises(KeyError, match="val_loss"):
        schedule.observe({"accuracy": 0.9})
    custom = ReduceOnPlateau(monitor="error", patience=0, factor=0.5)
    _drive(custom, [0.2, 0.3], key="error")
    assert custom.scale == 0.5


def test_plateau_state_round_trip():
    losses = [1.0, 0.9, 0.9, 0.9, 0.9, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85]
    first = ReduceOnPlateau(factor=0.5, patience=1, cooldown=1, min_lr=0.01)
    _drive(first, losses[:5])
    saved = json.loads(json.dumps(first.state()))
    assert set(saved) == {"scale", "best", "wait", "cooldown_counter"}
    second = ReduceOnPlateau(factor=0.5, patience=1, cooldown=1, min_lr=0.01)
    second.load_state(saved)
    assert second.state() == first.state()
    rest = losses[5:]
    assert _drive(second, rest) == _drive(first, rest)
    assert second.state() == first.state()
    assert first.scale < 0.5  # the round trip above went through more than one reduction
    with pytest.raises(ValueError, match="keys"):
        second.load_state({"scale": 1.0})


def test_plateau_fresh_state():
    schedule = ReduceOnPlateau()
    assert schedule.state() == {"scale": 1.0, "best": math.inf, "wait": 0, "cooldown_counter": 0}
    assert schedule(0, 0.1) == 0.1


def test_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    losses = [1.0, 0.8, 0.8, 0.79995, 0.8, 0.7, 0.7, 0.7, 0.7, 0.71, 0.7, 0.5]
    losses += [0.5] * 12
    kwargs = {"factor": 0.5, "patience": 2, "threshold": 1e-3, "cooldown": 1, "min_lr": 0.02}
    ours = ReduceOnPlateau(**kwargs)
    weight = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([weight], lr=0.4)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", **kwargs)
    for epoch, loss in enumerate(losses):
        assert ours(epoch, 0.4) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        ours.observe({"val_loss": loss})
        theirs.step(loss)
    assert ours(len(losses), 0.4) == 0.02


# --- get_schedule ---------------------------------------------------------------------------


def test_get_schedule_none_and_instance():
    assert isinstance(get_schedule(None), Constant)
    schedule = CosineDecay(t_max=5)
    assert get_schedule(schedule) is schedule


def test_get_schedule_by_name():
    assert set(SCHEDULES) == {"constant", "step", "exponential", "cosine", "plateau"}
    assert type(get_schedule("constant")) is Constant
    plateau = get_schedule("PLATEAU")
    assert type(plateau) is ReduceOnPlateau
    assert plateau.hyperparameters() == ReduceOnPlateau().hyperparameters()
    assert type(get_schedule(ReduceOnPlateau)) is ReduceOnPlateau
    for name, cls in SCHEDULES.items():
        assert cls.name == name


@pytest.mark.parametrize(("name", "needed"), [("step", "step_size"), ("exponential", "gamma")])
def test_get_schedule_name_with_required_args(name, needed):
    with pytest.raises(ValueError, match=needed):
        get_schedule(name)
    with pytest.raises(ValueError, match="t_max"):
        get_schedule(CosineDecay)


def test_get_schedule_unknown_and_wrong_type():
    with pytest.raises(ValueError, match="constant, step, exponential, cosine, plateau"):
        get_schedule("warmup")
    with pytest.raises(TypeError):
        get_schedule(0.1)
    with pytest.raises(TypeError):
        get_schedule(dict)


def test_get_schedule_wraps_a_function():
    schedule = get_schedule(lambda epoch, base_lr: base_lr / (epoch + 1))
    assert isinstance(schedule, LambdaSchedule)
    assert isinstance(schedule, Schedule)
    assert schedule(3, 1.0) == 0.25
    schedule.observe({"loss": 1.0})
    assert schedule.state() == {}
    assert "lambda" in repr(schedule)


# --- clip_by_global_norm --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_scales_to_max_norm_in_place(dtype):
    rng = np.random.default_rng(0)
    grads = (rng.normal(size=1000) * 3).astype(dtype)
    original = grads.copy()
    address = grads.__array_interface__["data"][0]
    expected_norm = float(np.linalg.norm(original.astype(np.float64)))
    norm = clip_by_global_norm(grads, 1.5)
    assert isinstance(norm, float)
    assert norm == pytest.approx(expected_norm, rel=1e-5)
    assert grads.dtype == dtype
    assert grads.__array_interface__["data"][0] == address
    assert float(np.linalg.norm(grads.astype(np.float64))) == pytest.approx(1.5, rel=1e-6)
    # Direction kept: a positive multiple of the original.
    np.testing.assert_allclose(grads, original * (1.5 / norm), rtol=1e-6)


def test_clip_leaves_small_gradient_untouched():
    grads = np.array([0.3, -0.4])
    original = grads.copy()
    assert clip_by_global_norm(grads, 1.0) == pytest.approx(0.5, rel=1e-15)
    np.testing.assert_array_equal(grads, original)
    assert clip_by_global_norm(grads, 0.5) == pytest.approx(0.5, rel=1e-15)
    np.testing.assert_array_equal(grads, original)


def test_clip_survives_float32_overflow_of_the_sum_of_squares():
    grads = np.full(4, 1e20, dtype=np.float32)  # sum of squares overflows float32
    norm = clip_by_global_norm(grads, 1.0)
    assert norm == pytest.approx(2e20, rel=1e-6)
    np.testing.assert_allclose(grads, 0.5, rtol=1e-6)


def test_clip_leaves_non_finite_gradient_alone():
    grads = np.array([1.0, np.inf, 2.0])
    assert clip_by_global_norm(grads, 1.0) == math.inf
    np.testing.assert_array_equal(grads, [1.0, np.inf, 2.0])
    grads = np.array([1.0, np.nan])
    assert math.isnan(clip_by_global_norm(grads, 1.0))


@pytest.mark.parametrize("max_norm", [0.0, -1.0, float("nan")])
def test_clip_rejects_non_positive_max_norm(max_norm):
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_global_norm(np.ones(3), max_norm)


def test_docstring_examples_run():
    result = doctest.testmod(schedules)
    assert result.attempted > 0
    assert result.failed == 0
