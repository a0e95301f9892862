"""The conformance suite every model passes, built-in or plugin.

``check_model(model)`` runs every rule of the model contract and raises
``AssertionError`` naming the rule that failed. Hypothesis strategies that
generate journeys live in :mod:`attribution.testing.strategies` (they need the
``hypothesis`` package, installed with the ``test`` extra).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import polars as pl

from attribution.api import run_model
from attribution.errors import NeedsTimesError
from attribution.journeys import Journeys
from attribution.models.base import Model

__all__ = ["CHECKS", "check_model", "example_journeys", "rename_channels", "shuffle_rows"]

RTOL = 1e-9


def example_journeys(seed: int = 0, n: int = 200, n_channels: int = 5) -> Journeys:
    """A small varied sample: lengths 1 to 6, repeats, nulls, values, times."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 7, n)
    codes = rng.integers(0, n_channels, int(lengths.sum())).astype(np.uint32)
    conv = (rng.random(n) < 0.4).astype(np.float64)
    value = np.round(conv * rng.uniform(1, 200, n), 2)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    days = np.concatenate([np.sort(rng.uniform(0, 30, k))[::-1] for k in lengths])
    return Journeys(
        channels=tuple(f"ch{i}" for i in range(n_channels)),
        codes=codes,
        offsets=offsets,
        conversions=conv,
        value=value,
        nulls=1.0 - conv,
        days_before=days,
    )


def shuffle_rows(journeys: Journeys, seed: int = 0) -> Journeys:
    """The same journeys in another row order."""
    order = np.random.default_rng(seed).permutation(journeys.n_rows)
    return journeys.select(order)


def rename_channels(journeys: Journeys, mapping: dict[str, str]) -> Journeys:
    """The same journeys with channels renamed (and recoded in sorted order)."""
    names = [mapping[c] for c in journeys.channels]
    channels = tuple(sorted(names))
    recode = np.array([channels.index(n) for n in names], dtype=np.uint32)
    codes = recode[journeys.codes] if journeys.n_touches else journeys.codes
    return replace(journeys, channels=channels, codes=codes)


def _credit(model: Model, journeys: Journeys) -> pl.DataFrame:
    return run_model(model, journeys).sort("channel")


def _close(a: np.ndarray, b: np.ndarray, scale: float) -> bool:
    return bool(np.allclose(a, b, rtol=RTOL, atol=RTOL * max(scale, 1.0)))


# -- the rules ------------------------------------------------------------
def check_credit_adds_up(model: Model, journeys: Journeys) -> None:
    credit = _credit(model, journeys)
    assert sorted(credit["channel"].to_list()) == sorted(journeys.channels), (
        f"{model.name}: the credit frame must have one row per channel of the journeys"
    )
    for col, total in (
        ("conversions", journeys.total_conversions),
        ("value", journeys.total_value),
    ):
        got = float(credit[col].sum())
        assert np.isclose(got, total, rtol=1e-7, atol=1e-7), (
            f"{model.name}: credited {col} add up to {got}, expected {total}"
        )


def check_no_negative_credit(model: Model, journeys: Journeys) -> None:
    if model.allows_negative:
        return
    credit = _credit(model, journeys)
    low = credit.filter((pl.col("conversions") < -1e-12) | (pl.col("value") < -1e-9))
    assert low.height == 0, (
        f"{model.name}: negative credit {low.to_dicts()} but the model does not declare "
        "allows_negative = True"
    )


def check_row_order_does_not_matter(model: Model, journeys: Journeys) -> None:
    a = _credit(model, journeys)
    b = _credit(model, shuffle_rows(journeys, seed=1))
    scale = journeys.total_value
    assert _close(a["conversions"].to_numpy(), b["conversions"].to_numpy(), scale) and _close(
        a["value"].to_numpy(), b["value"].to_numpy(), scale
    ), f"{model.name}: credit changes when the journeys come in another order"


def check_channel_names_do_not_matter(model: Model, journeys: Journeys) -> None:
    # Reverse the alphabetical order of the names, so every code changes.
    mapping = {c: f"z{len(journeys.channels) - i:04d}_{c}" for i, c in enumerate(journeys.channels)}
    a = _credit(model, journeys)
    b = _credit(model, rename_channels(journeys, mapping))
    back = {v: k for k, v in mapping.items()}
    b = b.with_columns(pl.col("channel").replace_strict(back)).sort("channel")
    scale = journeys.total_value
    assert _close(a["conversions"].to_numpy(), b["conversions"].to_numpy(), scale) and _close(
        a["value"].to_numpy(), b["value"].to_numpy(), scale
    ), f"{model.name}: credit changes when the channels are renamed"


def check_deterministic(model: Model, journeys: Journeys) -> None:
    a = _credit(model, journeys)
    b = _credit(model, journeys)
    assert a.equals(b), f"{model.name}: two runs on the same input give different credit"


def check_one_channel_journeys(model: Model, journeys: Journeys) -> None:
    # Every journey touches a single channel (possibly several times): that
    # channel must get all of its conversions and value.
    n = journeys.n_channels
    rows = np.arange(2 * n)
    channel = rows % n
    lengths = 1 + rows // n  # each channel once with one touch, once with two
    single = Journeys(
        channels=journeys.channels,
        codes=np.repeat(channel, lengths).astype(np.uint32),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        conversions=np.ones(2 * n),
        value=np.arange(1, 2 * n + 1, dtype=np.float64),
        nulls=np.ones(2 * n),
        days_before=np.concatenate([np.arange(k, dtype=np.float64)[::-1] for k in lengths]),
    )
    credit = _credit(model, single)
    expected_conv = np.bincount(channel, minlength=n).astype(float)
    expected_val = np.bincount(channel, weights=single.value, minlength=n)
    order = np.argsort(np.array(journeys.channels))
    assert _close(credit["conversions"].to_numpy(), expected_conv[order], 1.0) and _close(
        credit["value"].to_numpy(), expected_val[order], float(single.value.sum())
    ), f"{model.name}: a journey of one channel must give that channel all of its credit"


def check_empty_input(model: Model, journeys: Journeys) -> None:
    empty = Journeys.empty(journeys.channels, has_times=True)
    credit = _credit(model, empty)
    assert float(credit["conversions"].abs().sum()) == 0.0, (
        f"{model.name}: empty input must give no credit"
    )


def check_missing_times(model: Model, journeys: Journeys) -> None:
    bare = journeys.drop_times()
    if model.needs_times:
        try:
            run_model(model, bare)
        except NeedsTimesError:
            return
        raise AssertionError(f"{model.name}: needs_times is set but paths without times ran")
    check_credit_adds_up(model, bare)


CHECKS: dict[str, Callable[[Model, Journeys], None]] = {
    "credit_adds_up": check_credit_adds_up,
    "no_negative_credit": check_no_negative_credit,
    "row_order_does_not_matter": check_row_order_does_not_matter,
    "channel_names_do_not_matter": check_channel_names_do_not_matter,
    "deterministic": check_deterministic,
    "one_channel_journeys": check_one_channel_journeys,
    "empty_input": check_empty_input,
    "missing_times": check_missing_times,
}
"""Every rule of the model contract, by name."""


def check_model(model: Model | type[Model], journeys: Journeys | None = None) -> None:
    """Run every rule of the contract on ``model``; raise AssertionError on the first
    that fails. ``model`` may be a class (run with its defaults) or an instance."""
    instance = model() if isinstance(model, type) else model
    data = journeys if journeys is not None else example_journeys()
    if not data.has_times:
        data = example_journeys()
    for check in CHECKS.values():
        check(instance, data)
