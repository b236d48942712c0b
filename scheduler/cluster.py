"""Connecting the master to Ray: the one place that calls ``ray.init``.

* Ray already initialised (a test fixture, a ``ray job`` driver that called ``ray.init``):
  use it.
* ``address`` given, or ``RAY_ADDRESS`` set (``ray job submit`` sets it): join that cluster,
  with no resource arguments (Ray rejects them when connecting). A ``host:port`` address
  (or ``ray://host:port``) is first reached with a plain TCP connection, so that an address
  nobody answers fails within ``timeout`` seconds (:func:`check_reachable`); Ray itself
  retries for minutes, printing warnings.
* Otherwise: start a private local Ray with explicit ``num_cpus``, never a bare
  ``ray.init()``, which would silently attach to whatever local cluster is running.

Before any actor is created, :func:`check_resources` refuses workers that no node, or the
whole cluster, can hold: Ray would wait for them forever.

A local Ray started here passes objects up to :data:`INLINE_BYTES` (1 MiB) by value,
inside the task's request or reply, instead of Ray's default 100 KiB: a worker's result
then reaches the master with the task's completion, and a round's operand travels with
each call, with no object-store round trip on either side. Measured by
``benchmarks/straggler_matmul.py`` (8 workers on 2 cores, results of 400 KiB, operand of
800 KiB): 4.3–5.1 ms of control overhead a round, against 9.0–9.6 ms at 100 KiB. A
cluster keeps its own setting; to get the same there, start every node and the driver
with ``RAY_max_direct_call_object_size=1048576`` in the environment.

Ray's noise (Ray 2.60) stays out of the user's terminal (:func:`quiet_ray`): its INFO lines,
the token-authentication warning of every local start, the raylet's "N PYTHON worker
processes have been started" warnings (n actors on few cores is the point here), and its
long "A worker died or was killed ... OOM killer" report, which becomes one line. Ray has
no switch for the raylet's messages: they reach the driver's ``print_to_stdstream``, which
:func:`quiet_ray` wraps with a filter.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import re
import socket
from urllib.parse import urlsplit

import ray

__all__ = [
    "CONNECT_TIMEOUT",
    "INLINE_BYTES",
    "check_reachable",
    "check_resources",
    "connect",
    "disconnect",
    "inline_bytes",
    "quiet_ray",
    "ray_in_use",
    "shutdown",
]

INLINE_BYTES = 1 << 20  # objects passed by value on a local Ray started here
CONNECT_TIMEOUT = 30.0  # seconds to reach a cluster's address
_RAY_DEFAULT_INLINE_BYTES = 100 * 1024
_started_inline: int | None = None  # the setting of the local Ray this process started
_started = False  # whether connect() started (or joined) the Ray in use
_stopping = False  # disconnect() is shutting Ray down
_EPSILON = 1e-4  # Ray's resolution of fractional resources

logger = logging.getLogger(__name__)


def connect(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    object_store_memory: int | None = None,
    inline_bytes: int = INLINE_BYTES,
    timeout: float = CONNECT_TIMEOUT,
) -> bool:
    """Make sure Ray is initialised; return True when this call started it (then ``disconnect`` it).

    Args:
        address: a cluster address (``"ray://host:10001"``, ``"host:6379"`` or ``"auto"``);
            defaults to ``$RAY_ADDRESS``.
        num_cpus: logical CPUs of a local Ray (default: this machine's count).
        object_store_memory: bytes of a local Ray's object store (default: Ray's).
        inline_bytes: objects up to this size a local Ray passes by value (Ray's
            ``max_direct_call_object_size``; its default is 100 KiB).
        timeout: seconds to reach ``address`` before a ``ConnectionError``.
    """
    global _started_inline, _started
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    quiet_ray()
    if address:
        check_reachable(address, timeout)
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    else:
        ray.init(
            address="local",
            num_cpus=num_cpus or os.cpu_count() or 1,
            object_store_memory=object_store_memory,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            _system_config={"max_direct_call_object_size": inline_bytes},
        )
        _started_inline = inline_bytes
    _started = True
    return True


def disconnect(started: bool) -> None:
    """Shut Ray down if :func:`connect` started it."""
    global _started_inline, _started, _stopping
    if started and ray.is_initialized():
        _stopping = True  # the workers Ray stops now die on purpose: nothing to report
        try:
            ray.shutdown()
        finally:
            _stopping = False
    if started:
        _started_inline, _started = None, False


def ray_in_use() -> dict:
    """Which Ray this process uses: its GCS ``address``, and whether :func:`connect` started
    it as a local Ray (``started_here``; False: one that was running, e.g. the cluster a
    ``ray job``'s driver joins)."""
    address = ray.get_runtime_context().gcs_address
    return {"address": address, "started_here": _started_inline is not None}


def shutdown() -> None:
    """Shut Ray down if this process's :func:`connect` started it and nobody disconnected it
    (the CLI calls this when interrupted)."""
    disconnect(_started)


def inline_bytes() -> int:
    """Bytes up to which the Ray in use passes task arguments and results by value."""
    if _started_inline is not None:
        return _started_inline
    return int(os.environ.get("RAY_max_direct_call_object_size", _RAY_DEFAULT_INLINE_BYTES))


# -- before Ray: is anybody there? -----------------------------------------------------------


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise ``ConnectionError`` unless a TCP connection to ``address`` opens within ``timeout`` s.

    ``"host:port"`` and ``"ray://host:port"`` are checked; ``"auto"`` and addresses without a
    port are left to Ray. So is a port that accepts the connection but is not Ray's (another
    service, or a proxy in front of nothing): Ray then retries for minutes.

    >>> check_reachable("auto")
    >>> check_reachable("127.0.0.1:1", timeout=5)
    Traceback (most recent call last):
    ConnectionError: could not reach a Ray cluster at '127.0.0.1:1' within 5 s: Connection refused
    """
    if not isinstance(address, str):
        raise TypeError(f"Argument 'address' must be a string, not {address!r}.")
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout > 0:
        raise ValueError(
            f"Argument 'timeout' must be a positive number of seconds, not {timeout!r}."
        )
    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a malformed port: Ray's message says what it expects
        return
    if host is None or port is None:
        return
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ConnectionError(
            f"could not reach a Ray cluster at {address!r} within {timeout:g} s: {reason}"
        ) from exc


def check_resources(n: int, num_cpus: float = 1.0, num_gpus: float = 0.0) -> None:
    """Refuse ``n`` workers of ``num_cpus`` CPUs and ``num_gpus`` GPUs each that the cluster's
    live nodes cannot hold together (Ray would wait for them forever).

    A worker's CPUs and GPUs must fit on one node; the count of such slots over all nodes
    must reach ``n``. Other jobs' use is not counted: their resources come back.
    """
    asked = {name: float(per) for name, per in (("CPU", num_cpus), ("GPU", num_gpus)) if per}
    if not asked:
        return
    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    slots = sum(
        min(math.floor(node.get(name, 0.0) / per + _EPSILON) for name, per in asked.items())
        for node in nodes
    )
    if slots >= n:
        return
    total = ray.cluster_resources()
    figures = "; ".join(
        f"{n} workers × {per:g} {name}s = {n * per:g} {name}s asked; the largest node has "
        f"{max((node.get(name, 0.0) for node in nodes), default=0.0):g} {name}s, the cluster "
        f"{total.get(name, 0.0):g}"
        for name, per in asked.items()
    )
    arguments = " or ".join(f"'num_{name.lower()}s_per_worker'" for name in asked)
    raise ValueError(
        f"{figures}: the live nodes hold {slots} such workers, not n={n}; lower {arguments} or n."
    )


# -- Ray's noise -----------------------------------------------------------------------------

_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"
_WORKER_DIED = "A worker died or was killed while executing a task"
_WORKERS_STARTED = re.compile(r"PYTHON worker processes have been started on node")


class _DropTokenNotice(logging.Filter):
    """Drops Ray's warning that a local Ray uses token authentication (it does, by default)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Token authentication is enabled")


def quiet_ray() -> None:
    """Keep Ray's routine notices out of the terminal; report a worker's death in one line.

    Installed once per process, before ``ray.init``.
    """
    auth = logging.getLogger(_AUTH_LOGGER)
    if not any(isinstance(f, _DropTokenNotice) for f in auth.filters):
        auth.addFilter(_DropTokenNotice())
    from ray._private import worker as ray_worker

    printer = getattr(ray_worker, "print_to_stdstream", None)
    if printer is None or getattr(printer, "filters_raylet", False):
        return

    def filtered(data, *args, **kwargs):
        lines = [line for line in data.get("lines", []) if not _raylet_noise(line)]
        if lines:
            printer({**data, "lines": lines}, *args, **kwargs)

    filtered.filters_raylet = True
    ray_worker.print_to_stdstream = filtered


def _raylet_noise(line: str) -> bool:
    """Whether a raylet message is one :func:`quiet_ray` drops (a death is logged in one line)."""
    if _WORKERS_STARTED.search(line):
        return True
    if _WORKER_DIED not in line:
        return False
    if not _stopping:
        logger.warning("coded: warning: %s", _one_line(line))
    return True


def _one_line(message: str) -> str:
    """One line from Ray's report of a worker's death: its pid and why it exited.

    >>> _one_line("A worker died ... Worker PID: 42 Worker exit type: SYSTEM_ERROR "
    ...           "Worker exit detail: Worker exits with code 2. End of file.")
    'a Ray worker process died unexpectedly (pid 42, SYSTEM_ERROR: Worker exits with code 2)'
    """
    pid = re.search(r"Worker PID: (\d+)", message)
    kind = re.search(r"Worker exit type: (\w+)", message)
    detail = re.search(r"Worker exit detail: (.+?)(?:\.|$)", message)
    facts = ", ".join(
        part
        for part in (
            f"pid {pid[1]}" if pid else "",
            ": ".join(m[1] for m in (kind, detail) if m),
        )
        if part
    )
    return "a Ray worker process died unexpectedly" + (f" ({facts})" if facts else "")
