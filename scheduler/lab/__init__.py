"""The straggler lab: a vectorised virtual-time simulator, its theory, scenarios, real runs.

:mod:`.simulator` runs the master's policy (wait for the first decodable set, cancel the
rest) over many rounds at once; :mod:`.theory` holds the closed forms it is checked against;
:mod:`.scenarios` reads ``coded simulate`` configs and :mod:`.reports` writes their tables
and plots; :mod:`.bench` runs the same scenarios on real workers next to the calibrated
simulator's prediction (``coded bench``), racing strategies with :mod:`.compare`;
:mod:`.traces` records runs for replay; :mod:`.recommend` picks a code for a workload.
"""

from __future__ import annotations

from .simulator import SimulationResult, Strategy, sample_delays, simulate, work_share
from .theory import (
    exponential_order_mean,
    exponential_order_variance,
    shifted_exponential_mean,
    shifted_exponential_variance,
)

__all__ = [
    "SimulationResult",
    "Strategy",
    "exponential_order_mean",
    "exponential_order_variance",
    "sample_delays",
    "shifted_exponential_mean",
    "shifted_exponential_variance",
    "simulate",
    "work_share",
]
