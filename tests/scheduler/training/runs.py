"""Training runs for the tests: on the in-process pool, with every iterate kept."""

from __future__ import annotations

import numpy as np

import coded
from coded.scheduler.pool import InProcessPool


def train_local(X, y, n=6, delays=None, **kwargs):
    """``coded.train`` on n in-process workers: ``(result, iterates)``, the iterates stacked
    in one array (one row per iteration)."""
    iterates = []
    with coded.Runtime(n, pool=InProcessPool(n, delays=delays)) as rt:
        result = coded.train(
            X,
            y,
            runtime=rt,
            progress=False,
            callback=lambda t, w, record: iterates.append(w),
            **kwargs,
        )
    return result, np.array(iterates)
