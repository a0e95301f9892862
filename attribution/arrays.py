"""Small array helpers shared by the journeys, the models and the simulator."""

from __future__ import annotations

import numpy as np

__all__ = ["csr_offsets", "distinct", "distinct_pairs", "ranges"]


def distinct(a: np.ndarray) -> np.ndarray:
    """The sorted distinct values of ``a``, like ``np.unique(a)``.

    ``np.unique`` without ``return_*`` arguments takes a hashing path that is
    about fifty times slower than sorting on millions of integers (numpy 2.4:
    2.3 s against 0.04 s on 3M int64), so the models use this instead.
    """
    a = np.sort(np.ravel(a))
    if len(a) == 0:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def distinct_pairs(
    group: np.ndarray, codes: np.ndarray, n_channels: int
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (group, channel code) pairs among touches, sorted, as two arrays."""
    n = max(n_channels, 1)
    key = distinct(group.astype(np.int64) * n + codes.astype(np.int64))
    return key // n, key % n


def csr_offsets(lengths: np.ndarray) -> np.ndarray:
    """CSR offsets (``n + 1`` entries, starting at 0) of groups of these lengths."""
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Indices ``starts[i], ..., starts[i] + lengths[i] - 1`` of every ``i``, concatenated."""
    begin = csr_offsets(lengths)
    return np.arange(begin[-1], dtype=np.int64) + np.repeat(starts - begin[:-1], lengths)
