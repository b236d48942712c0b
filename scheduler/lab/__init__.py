"""The straggler lab: a vectorised virtual-time simulator, its theory, scenarios, real runs.

:mod:`.simulator` runs the master's policy (wait for the first decodable set, cancel the
rest) over many rounds at once; :mod:`.partial` adds strategies that use the stragglers'
partial work and the load-balanced ideal, :mod:`.adaptive` the rebalancing of loads by
estimated speeds; :mod:`.theory` holds the closed forms the simulator is checked against;
:mod:`.scenarios` reads ``coded simulate`` configs and :mod:`.reports` writes their tables
and plots; :mod:`.bench` runs the same scenarios on real workers next to the calibrated
simulator's prediction (``coded bench``), racing strategies with :mod:`.compare`;
:mod:`.traces` records runs for replay; :mod:`.recommend` picks a code for a workload.
"""

from __future__ import annotations

from .adaptive import AdaptiveResult, Rebalance, simulate_adaptive
from .partial import chunked_mds, load_balanced, rotated_mds
from .simulator import SimulationResult, Strategy, sample_delays, simulate, work_share
from .theory import (
    exponential_order_mean,
    exponential_order_variance,
    shifted_exponential_mean,
    shifted_exponential_variance,
)

__all__ = [
    "AdaptiveResult",
    "Rebalance",
    "SimulationResult",
    "Strategy",
    "chunked_mds",
    "exponential_order_mean",
    "exponential_order_variance",
    "load_balanced",
    "rotated_mds",
    "sample_delays",
    "shifted_exponential_mean",
    "shifted_exponential_variance",
    "simulate",
    "simulate_adaptive",
    "work_share",
]
