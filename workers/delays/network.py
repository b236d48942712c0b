"""A network model: per-link latency and bandwidth, the master's link shared by all messages.

On one machine bytes cost almost nothing, so a communication gain shows only under a model.
A message of ``b`` bytes from or to worker ``w`` costs

    latency + 8·b / min(bw_w, B)        (alone on the links)

with ``bw_w`` the worker's link and ``B`` the master's (``master_bandwidth``; None: no
shared bottleneck). Worker links are the same ``bandwidth`` for all, an explicit
per-worker list, or ``bandwidth · exp(σ·z_w)`` with ``σ = heterogeneity`` and ``z_w``
standard normal from ``np.random.default_rng([seed, w])`` (lognormal, median
``bandwidth``; worker w's link does not depend on n).

The master's link is full duplex. Uploads queue on it FIFO, a server of capacity ``B``:
answers take it in the order they are ready (their worker finished computing) and each
occupies it ``8·b/B`` seconds; a message also needs ``8·b/bw_w`` on its own link, in
parallel (cut-through), and arrives ``latency`` after both are through. For answers ready
at ``t_1 ≤ t_2 ≤ …`` with ``s = 8·b/B`` the master link frees at

    f_k = max(t_k, f_{k−1}) + s = C_k + max_{j≤k} (t_j − C_{j−1}),   C_k = k·s,

and message k arrives at ``max(f_k, t_k + 8·b/bw_k) + latency``. So n uploads of ``b`` bytes
ready at once take at least ``n·8·b/B``, the k-th arriving at ``latency + k·8·b/B`` when
the worker links are no slower than ``B``; n slow worker links under a fast master link
all arrive together, as a fair share would give. FIFO serves simultaneous answers one
after another, where TCP would share the link fairly and finish them all near ``n·s``: the
queue favours waiting for fewer answers.

A broadcast is n unicast copies sent at once (no tree, no multicast) that share the master
link fairly (max-min): each copy runs at ``min(bw_w, λ)`` with the water level λ solving
``Σ_w min(bw_w, λ) = B``, so worker w has it at ``latency + 8·b/min(bw_w, λ)``; n equal
links faster than ``B/n`` all have it at ``latency + n·8·b/B``. Every message of a kind has
the same size, and links do not vary by round (compose with a delay model for that).

>>> net = Network(latency=1e-3, bandwidth=8e9)     # 1 ms, 1 GB/s links, no master bottleneck
>>> net.upload_times(2, 1e6).tolist()              # 1 MB: 1 ms + 1 ms
[0.002, 0.002]
>>> Network(latency=0.0, bandwidth=8e9, master_bandwidth=8e9).arrivals([0.0, 0.0], 1e6).tolist()
[0.001, 0.002]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from coded.checks import check_bool, check_int, check_number, describe
from coded.config import Configurable

from .base import Compose, DelayModel, set_field

__all__ = ["Network", "NetworkDelay", "transfers"]


@dataclass(frozen=True, eq=False, repr=False)
class Network(Configurable, family="network"):
    """Links of the master and its workers: see :mod:`coded.workers.delays.network`.

    Args:
        latency: one-way seconds per message (>= 0).
        bandwidth: bits per second of each worker's link (> 0), or a list of n of them.
        master_bandwidth: bits per second of the master's link, shared by every message
            (FIFO); None for no shared bottleneck.
        heterogeneity: σ of the lognormal spread of worker links around ``bandwidth``
            (0: equal links; only with a single ``bandwidth``).
        seed: seed of that spread.

    >>> Network(latency=0.0, bandwidth=1e9, heterogeneity=0.5, seed=1).bandwidths(3).round(-6)
    array([1.189e+09, 1.306e+09, 5.490e+08])
    """

    latency: float = 0.0
    bandwidth: float | tuple[float, ...] = 10e9
    master_bandwidth: float | None = None
    heterogeneity: float = 0.0
    seed: int = 0

    def __post_init__(self):
        set_field(self, "latency", check_number(self.latency, "latency", minimum=0))
        set_field(self, "bandwidth", _bandwidth(self.bandwidth))
        if self.master_bandwidth is not None:
            set_field(
                self,
                "master_bandwidth",
                check_number(self.master_bandwidth, "master_bandwidth", minimum=0, above=True),
            )
        sigma = check_number(self.heterogeneity, "heterogeneity", minimum=0)
        if sigma and isinstance(self.bandwidth, tuple):
            raise ValueError(
                "Argument 'heterogeneity' must be 0 with a per-worker list of bandwidths, "
                f"not {sigma:g}."
            )
        set_field(self, "heterogeneity", sigma)
        set_field(self, "seed", check_int(self.seed, "seed", minimum=0))

    def check_n(self, n: int) -> None:
        """Raise unless a per-worker list of bandwidths has ``n`` entries.

        >>> Network(bandwidth=[1e9, 2e9]).check_n(3)
        Traceback (most recent call last):
        ...
        ValueError: Argument 'bandwidth' of Network must list n=3 links, not 2.
        """
        n = check_int(n, "n", minimum=1)
        if isinstance(self.bandwidth, tuple) and len(self.bandwidth) != n:
            raise ValueError(
                f"Argument 'bandwidth' of Network must list n={n} links, not {len(self.bandwidth)}."
            )

    def bandwidths(self, n: int) -> np.ndarray:
        """Bits per second of the n worker links, shape ``(n,)``.

        >>> Network(bandwidth=1e9).bandwidths(2).tolist()
        [1000000000.0, 1000000000.0]
        """
        self.check_n(n)
        if isinstance(self.bandwidth, tuple):
            return np.array(self.bandwidth)
        if not self.heterogeneity:
            return np.full(n, self.bandwidth)
        z = [np.random.default_rng([self.seed, w]).standard_normal() for w in range(n)]
        return self.bandwidth * np.exp(self.heterogeneity * np.array(z))

    def upload_times(self, n: int, nbytes: float) -> np.ndarray:
        """Seconds for each worker's message of ``nbytes`` alone on the links:
        ``latency + 8·b/min(bw_w, B)``, shape ``(n,)``. The same for a download alone.

        >>> Network(latency=0.5, bandwidth=8.0, master_bandwidth=4.0).upload_times(1, 2).tolist()
        [4.5]
        """
        nbytes = _bytes(nbytes)
        rate = self.bandwidths(n)
        if self.master_bandwidth is not None:
            rate = np.minimum(rate, self.master_bandwidth)
        return self.latency + 8 * nbytes / rate

    def download_times(self, n: int, nbytes: float) -> np.ndarray:
        """When each worker has the master's broadcast of ``nbytes`` sent at 0, shape ``(n,)``:
        n unicast copies sharing the master link fairly, ``latency + 8·b/min(bw_w, λ)``.

        >>> net = Network(latency=0.0, bandwidth=[8.0, 16.0, 32.0], master_bandwidth=32.0)
        >>> net.download_times(3, 1).tolist()    # λ = 12 bits/s: worker 0 keeps its 8
        [1.0, 0.6666666666666666, 0.6666666666666666]
        """
        nbytes = _bytes(nbytes)
        links = self.bandwidths(n)
        return self.latency + 8 * nbytes / np.minimum(links, self._level(links))

    def _level(self, links: np.ndarray) -> float:
        """The max-min fair rate λ of flows capped at ``links`` on the master link (inf: none)."""
        if self.master_bandwidth is None or links.sum() <= self.master_bandwidth:
            return np.inf
        caps = np.sort(links)
        below = np.concatenate([[0.0], np.cumsum(caps)[:-1]])  # capacity the slower ones take
        level = (self.master_bandwidth - below) / np.arange(len(caps), 0, -1)
        return float(level[np.argmax(caps >= level)])  # the first cap at or above its share

    def arrivals(self, ready, nbytes: float) -> np.ndarray:
        """When the master has each upload of ``nbytes``, for workers whose answers are ready
        at ``ready`` (shape ``(n,)`` or ``(rounds, n)``; ``inf``: never), queued FIFO on
        the master link in order of readiness.

        >>> net = Network(latency=1.0, bandwidth=8.0, master_bandwidth=8.0)
        >>> net.arrivals([[5.0, 0.0, np.inf]], 1).tolist()
        [[7.0, 2.0, inf]]
        """
        ready = np.asarray(ready, dtype=np.float64)
        if ready.ndim not in (1, 2):
            raise ValueError(
                f"Argument 'ready' must have shape (n,) or (rounds, n), not {ready.shape}."
            )
        if np.isnan(ready).any():
            raise ValueError("Argument 'ready' must hold times or inf, not NaN.")
        rows = np.atleast_2d(ready)
        order = np.argsort(rows, axis=1, kind="stable")
        out = np.empty_like(rows)
        sorted_ready = np.take_along_axis(rows, order, axis=1)
        np.put_along_axis(out, order, self._through(sorted_ready, _bytes(nbytes), order), axis=1)
        return out.reshape(ready.shape)

    def _through(self, ready: np.ndarray, nbytes: float, workers: np.ndarray) -> np.ndarray:
        """Arrival times of answers ready at ``ready`` (sorted along the last axis) from
        ``workers`` (same shape): the FIFO recursion of the module docstring."""
        own = ready + 8 * nbytes / self.bandwidths(ready.shape[-1])[workers]
        if self.master_bandwidth is not None:
            service = 8 * nbytes / self.master_bandwidth
            before = service * np.arange(ready.shape[-1])  # C_{k-1}
            freed = np.maximum.accumulate(ready - before, axis=-1) + before + service
            own = np.maximum(own, freed)
        return own + self.latency

    # config: a per-worker list of bandwidths round-trips as a list
    def _config_value(self, name):
        value = getattr(self, name)
        return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True, eq=False, repr=False)
class NetworkDelay(DelayModel):
    """Injected transfer delays from a :class:`Network`: each round, worker w waits its
    broadcast of ``bytes_down`` (:meth:`Network.download_times`) and its upload of
    ``bytes_up`` alone on the links (:meth:`Network.upload_times`), as ``extra`` seconds.
    With ``shared_uplink`` the uploads share the master's link too, as n flows sent at once
    (the fair share of :meth:`Network.download_times`): each worker computes its own delay,
    so it cannot see when the others send, and this assumes they all send together, as
    workers finishing equal shares do (an upper bound for the first answers otherwise).

    ``None`` measures the bytes in real runs: the worker adds the time for its round's
    arguments (download) and its answer's ``nbytes`` (upload). :meth:`sample` (and so the
    simulator, given this as a delay model) counts measured parts as 0; for the simulator
    pass ``network=`` and ``message_bytes=`` to :func:`~coded.scheduler.lab.simulate`
    instead, which queues the uploads on the master link too.

    >>> net = Network(latency=0.5, bandwidth=8.0)
    >>> d = NetworkDelay(net, bytes_up=2, bytes_down=1).sample(0, 1, 2, np.random.default_rng(0))
    >>> d.extra.tolist()                                  # (0.5 + 1) + (0.5 + 2)
    [4.0, 4.0]
    """

    network: Network
    bytes_up: float | None = None
    bytes_down: float | None = None
    shared_uplink: bool = False

    def __post_init__(self):
        if isinstance(self.network, dict):
            set_field(self, "network", Network.from_config(self.network))
        if not isinstance(self.network, Network):
            raise TypeError(f"Argument 'network' must be a Network, not {describe(self.network)}.")
        for name in ("bytes_up", "bytes_down"):
            if getattr(self, name) is not None:
                set_field(self, name, _bytes(getattr(self, name), name))
        set_field(self, "shared_uplink", check_bool(self.shared_uplink, "shared_uplink"))

    def _check_n(self, n):
        self.network.check_n(n)

    def _sample(self, worker, n, rounds, rng):
        return 1.0, self.transfer(worker, n, self.bytes_down or 0.0, self.bytes_up or 0.0)

    def transfer(self, worker: int, n: int, bytes_down: float, bytes_up: float) -> float:
        """Seconds worker ``worker`` of ``n`` spends receiving ``bytes_down`` and sending
        ``bytes_up`` (each 0: no message, no latency).

        >>> NetworkDelay(Network(latency=0.5, bandwidth=8.0)).transfer(0, 1, 0, 2)
        2.5
        >>> net = Network(bandwidth=8.0, master_bandwidth=8.0)      # 4 uploads share 1 byte/s
        >>> NetworkDelay(net, shared_uplink=True).transfer(0, 4, 0, 2)
        8.0
        """
        seconds = 0.0
        if bytes_down:
            seconds += float(self.network.download_times(n, bytes_down)[worker])
        if bytes_up:
            up = self.network.download_times if self.shared_uplink else self.network.upload_times
            seconds += float(up(n, bytes_up)[worker])
        return seconds

    def measured(self, worker: int, n: int, args: Sequence, value) -> float:
        """Seconds for the parts given as None, measured from a round's ``args`` (summed
        ``nbytes``) and answer ``value``: what a real worker adds to ``extra``.

        >>> model = NetworkDelay(Network(latency=0.0, bandwidth=8.0), bytes_down=0)
        >>> model.measured(0, 1, (np.ones(1),), np.ones(2))   # 16 bytes up at 1 byte/s
        16.0
        """
        down = _nbytes(args) if self.bytes_down is None else 0.0
        up = _nbytes((value,)) if self.bytes_up is None else 0.0
        return self.transfer(worker, n, down, up)

    def _config_value(self, name):
        value = getattr(self, name)
        return value.get_config() if isinstance(value, Network) else value


def transfers(model: DelayModel | None) -> tuple[NetworkDelay, ...]:
    """The :class:`NetworkDelay` parts of a delay model that measure their bytes (itself, or
    inside a ``Compose``): those a worker must add after computing.

    >>> from coded.workers.delays import Compose, FixedDelay
    >>> len(transfers(Compose(FixedDelay(1.0), NetworkDelay(Network()))))
    1
    """
    if isinstance(model, NetworkDelay):
        return (model,) if model.bytes_up is None or model.bytes_down is None else ()
    if isinstance(model, Compose):
        return tuple(part for inner in model.models for part in transfers(inner))
    return ()


def _bandwidth(value):
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str | bytes):
        if len(value) == 0:
            raise ValueError("Argument 'bandwidth' must list at least one link, not [].")
        return tuple(
            check_number(v, f"bandwidth[{i}]", minimum=0, above=True) for i, v in enumerate(value)
        )
    return check_number(value, "bandwidth", minimum=0, above=True)


def _bytes(value, name: str = "nbytes") -> float:
    return check_number(value, name, minimum=0)


def _nbytes(arrays: Sequence) -> float:
    return float(sum(getattr(a, "nbytes", 0) for a in arrays))
