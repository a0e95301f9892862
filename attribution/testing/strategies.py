"""Hypothesis strategies that generate journeys, for property tests of models."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st

from attribution.arrays import csr_offsets
from attribution.journeys import Journeys

__all__ = ["journeys"]


@st.composite
def journeys(
    draw: st.DrawFn,
    *,
    max_channels: int = 6,
    max_rows: int = 25,
    max_length: int = 7,
    with_times: bool = True,
    weighted: bool = False,
    channels: Sequence[str] | None = None,
    min_rows: int = 1,
) -> Journeys:
    """Random journeys: min_rows..max_rows rows over 1..max_channels channels.

    Each row converts or not (``weighted=True``: aggregated rows with several
    conversions and nulls), has a value, and (``with_times``) touch times that
    decrease along the journey. Channels are named ``c0``, ``c1``, ... or, with
    ``channels``, are a non-empty subset of those names (for models that treat
    a channel such as ``direct`` specially). ``min_rows=0`` allows empty input.
    """
    if channels is not None:
        pool = sorted(set(channels))
        names = tuple(sorted(draw(st.lists(st.sampled_from(pool), min_size=1, unique=True))))
    else:
        names = tuple(f"c{i}" for i in range(draw(st.integers(1, max_channels))))
    n_channels = len(names)
    n_rows = draw(st.integers(min_rows, max_rows))
    paths = draw(
        st.lists(
            st.lists(st.integers(0, n_channels - 1), min_size=1, max_size=max_length),
            min_size=n_rows,
            max_size=n_rows,
        )
    )
    if weighted:
        conv = draw(st.lists(st.integers(0, 5), min_size=n_rows, max_size=n_rows))
        nulls = draw(st.lists(st.integers(0, 5), min_size=n_rows, max_size=n_rows))
    else:
        conv = draw(st.lists(st.integers(0, 1), min_size=n_rows, max_size=n_rows))
        nulls = [1 - c for c in conv]
    per = draw(st.lists(st.floats(0, 1000, allow_nan=False), min_size=n_rows, max_size=n_rows))
    lengths = np.array([len(p) for p in paths], dtype=np.int64)
    conversions = np.array(conv, dtype=np.float64)
    days = None
    if with_times:
        gaps = draw(
            st.lists(
                st.floats(0, 20, allow_nan=False),
                min_size=int(lengths.sum()),
                max_size=int(lengths.sum()),
            )
        )
        days_list, k = [], 0
        for n in lengths:
            g = np.array(gaps[k : k + n])
            k += n
            days_list.append(np.cumsum(g[::-1])[::-1])  # decreasing toward the end
        days = np.concatenate(days_list) if days_list else np.zeros(0)
    return Journeys(
        channels=names,
        codes=np.array([c for p in paths for c in p], dtype=np.uint32).reshape(-1),
        offsets=csr_offsets(lengths),
        conversions=conversions,
        value=np.round(conversions * np.array(per), 2),
        nulls=np.array(nulls, dtype=np.float64),
        days_before=days,
    )
