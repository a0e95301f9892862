"""Small array helpers shared by the models and the simulator."""

from __future__ import annotations

import numpy as np

__all__ = ["distinct"]


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
