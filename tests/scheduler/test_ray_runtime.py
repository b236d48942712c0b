"""End to end on the session's local Ray: stragglers, failures, closing, no backlog.

Workers ask for a quarter CPU each so several runtimes fit on the 8-CPU test cluster.
Delays are injected (seconds long) so the assertions hold with wide margins.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

import coded
from coded import MDSCode
from coded.scheduler.errors import RoundFailedError
from coded.scheduler.round import run_round
from coded.scheduler.runtime import Runtime
from coded.workers.delays import Compose, Corrupt, FailStop, FixedDelay, PersistentSlow
from coded.workers.kernels import Product

from .conftest import PRODUCTS

pytestmark = pytest.mark.ray

CPUS = 0.25
STRAGGLE = 4.0
STRAGGLERS = (3, 6)  # every code in PRODUCTS decodes without these two


@pytest.fixture(scope="module")
def straggling(ray_cluster):
    with Runtime(
        8, num_cpus_per_worker=CPUS, delays=FixedDelay(STRAGGLE, workers=STRAGGLERS)
    ) as rt:
        yield rt


@pytest.mark.parametrize("product", PRODUCTS, ids=[p.id for p in PRODUCTS])
def test_every_code_returns_before_its_stragglers(straggling, product):
    rng = np.random.default_rng(0)
    A, B = product.operands(rng, m=48, d=20, c=4)
    for _ in range(2):  # the second round is not held up by the first one's stragglers
        C, metrics = straggling.matmul(A, B, code=product.code, return_metrics=True)
        np.testing.assert_allclose(C, product.expected(A, B), rtol=1e-9, atol=1e-9)
        assert metrics.wait_s < STRAGGLE / 2
        assert set(STRAGGLERS) <= set(metrics.cancelled)


def test_coded_matmul_on_the_running_cluster(ray_cluster):
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((40, 12)), rng.standard_normal((12, 3))
    C, metrics = coded.matmul(A, B, n=4, num_cpus_per_worker=CPUS, return_metrics=True)
    np.testing.assert_allclose(C, A @ B)
    assert metrics.strategy.startswith("MDSCode(n=4, k=3") and len(metrics.used) == 3
    assert ray_cluster.is_initialized()  # it used the session's Ray and left it running


def test_a_runtime_says_which_ray_it_runs_on(ray_cluster):
    with Runtime(2, num_cpus_per_worker=CPUS) as rt:
        address = ray_cluster.get_runtime_context().gcs_address
        assert rt.ray == {"address": address, "started_here": False}  # the session's Ray
    assert rt.ray is None  # closed


def test_more_failures_than_the_code_tolerates_fail_fast_naming_them(ray_cluster):
    with Runtime(4, num_cpus_per_worker=CPUS, delays=FailStop([0, 2], round=1), deadline=60) as rt:
        op = rt.place(np.ones((8, 2)), code=MDSCode(4, 3))
        np.testing.assert_allclose(op @ np.ones(2), np.full(8, 2.0))
        start = time.perf_counter()
        with pytest.raises(RoundFailedError) as info:
            op @ np.ones(2)
        assert time.perf_counter() - start < 20  # long before the 60 s deadline
        assert sorted(info.value.failures) == [0, 2]
        assert "worker 0: " in str(info.value) and "worker 2: " in str(info.value)


SURVIVORS = 15.0  # seconds the workers that do not crash take


def test_failures_end_the_round_at_once_however_slow_the_survivors(ray_cluster):
    """MDS(8,6): 1, 4 and 6 crash at once (rounds 0 and 1), 0, 2, 5 and 7 take 15 s: five of
    eight can remain. The master waited for 6 − 1 completions before looking, so the failure
    came after 15 s, or at a shorter deadline; now as soon as Ray reports the deaths."""
    delays = Compose(
        FailStop([1, 4, 6], round=0, duration=2), FixedDelay(SURVIVORS, workers=[0, 2, 5, 7])
    )
    with Runtime(8, num_cpus_per_worker=CPUS, delays=delays, deadline=60) as rt:
        op = rt.place(np.ones((12, 3)), code=MDSCode(8, 6))
        for deadline in (60.0, 10.0):  # the second is shorter than the survivors' delay
            rt.deadline = deadline
            start = time.perf_counter()
            with pytest.raises(RoundFailedError) as info:
                op @ np.ones(3)
            assert time.perf_counter() - start < 5, deadline
            assert sorted(info.value.failures) == [1, 4, 6]


def test_a_persistent_straggler_builds_no_backlog(ray_cluster):
    rng = np.random.default_rng(2)
    A, x = rng.standard_normal((2400, 800)), rng.standard_normal((800, 128))
    with Runtime(8, num_cpus_per_worker=CPUS, delays=PersistentSlow(1, factor=10.0)) as rt:
        slow = PersistentSlow(1, factor=10.0).slow_workers(8)
        op = rt.place(A, code=MDSCode(8, 6))
        times = []
        for _ in range(200):
            op @ x
            times.append(op.metrics.total_s)
        compute = np.median([np.median(list(m.compute.values())) for m in op.history])
        assert 10 * compute > 1.5 * np.median(times)  # uncancelled, its work would pile up
        first, last = np.median(times[:50]), np.median(times[-50:])
        assert last < 2 * first + 0.02, (first, last)
        cancelled = sum(set(slow) <= set(m.cancelled) for m in op.history)
        assert cancelled > 150  # the straggler was cut off, round after round
        start = time.perf_counter()
        np.testing.assert_allclose(rt.place(A, code=MDSCode(8, 8)) @ x, A @ x)
        assert time.perf_counter() - start < 1.5  # one straggler round (a backlog: ~4 s here)


def _deaf_product(index, operands, args, cancelled, backend):
    """Worker 1 computes for 30 s and never looks at ``cancelled``; the others at once."""
    if index == 1:
        time.sleep(30)
    return operands[0] @ args[0]


@pytest.mark.parametrize("deaf", [False, True], ids=["cancellable", "deaf"])
def test_closing_mid_round_leaves_no_worker_alive(ray_cluster, deaf):
    """A cancellable straggler exits when asked; one that ignores cancellation is killed
    once the grace period is over. Either way close returns within seconds."""
    delays = None if deaf else FixedDelay(30.0, workers=[1])
    rt = Runtime(4, num_cpus_per_worker=CPUS, delays=delays)
    actors, code, A = rt.pool.actors, MDSCode(4, 3), np.eye(6)
    rt.pool.place(0, [(s,) for s in code.encode(A)], _deaf_product if deaf else Product())
    y, metrics = run_round(rt.pool, code, job=0, round=0, args=(np.ones(6),), deadline=20)
    np.testing.assert_allclose(y, np.ones(6))
    assert metrics.cancelled == (1,)  # still sleeping: 30 s, in the delay or in the task
    start = time.perf_counter()
    rt.pool.close(grace=2.0)
    assert time.perf_counter() - start < 2.0 + 3.0
    for actor in actors:  # dead now, not after its 30 s (a timeout is not an actor error)
        with pytest.raises(ray_cluster.exceptions.RayActorError):
            ray_cluster.get(actor.ping.remote(), timeout=5)


def test_round_operands_go_by_value_when_ray_inlines_them(ray_cluster):
    from coded.scheduler.cluster import inline_bytes

    with Runtime(2, num_cpus_per_worker=CPUS) as rt:
        small, large = np.ones(16), np.ones(inline_bytes() // 8 + 1)
        assert rt.pool.share(small) is small
        assert isinstance(rt.pool.share(large), ray_cluster.ObjectRef)


def test_a_local_ray_started_here_inlines_up_to_a_mebibyte():
    script = """
import json, numpy as np, ray, coded
from coded.scheduler.cluster import INLINE_BYTES, inline_bytes
rng = np.random.default_rng(0)
A, x = rng.standard_normal((1200, 300)), rng.standard_normal((300, 64))
with coded.Runtime(4, num_cpus_per_worker=0.25) as rt:  # starts a private local Ray
    y = rt.place(A, code=coded.MDSCode(4, 3)) @ x  # 400 x 64 results: 200 KiB each
    print(json.dumps({"limit": inline_bytes() == INLINE_BYTES, "by_value": rt.pool.share(x) is x,
                      "error": float(np.abs(y - A @ x).max())}))
print(json.dumps({"reset": not ray.is_initialized() and inline_bytes() < INLINE_BYTES}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = (json.loads(line) for line in done.stdout.strip().splitlines()[-2:])
    assert first["limit"] and first["by_value"] and first["error"] < 1e-9, first
    assert second["reset"], second


def test_the_master_leaves_the_cores_to_its_workers_while_they_compute(ray_cluster):
    """Decoding with the master's BLAS threads left spinning burnt ~a core per round (CPU
    ≈ 0.7–0.9 of wall on 2 cores); within its one-thread budget it stays a small fraction."""
    rng = np.random.default_rng(0)
    A, x = rng.standard_normal((4800, 1600)), rng.standard_normal((1600, 32))
    with Runtime(8, num_cpus_per_worker=CPUS) as rt:
        op = rt.place(A, code=MDSCode(8, 6))
        for _ in range(3):
            op @ x
        rounds = [op.metrics for _ in range(8) if op @ x is not None]
        health = ray_cluster.get([actor.health.remote() for actor in rt.pool.actors])
    assert all(h["blas_threads"] == 1 for h in health)  # a quarter CPU each: one BLAS thread
    cpu = sum(m.master_cpu_s for m in rounds)
    wall = sum(m.total_s for m in rounds)
    assert cpu < 0.4 * wall, f"master CPU {cpu:.3f} s over {wall:.3f} s of rounds"


@pytest.mark.parametrize("field", [65537, "real"])
def test_a_worker_answering_garbage_is_corrected_named_and_blocklisted(ray_cluster, field):
    """n=7, MDS(7, 3), byzantine=2: worker 5 answers random values every round. Every result
    is exact (GF(p)) or within float64 accuracy; worker 5 is faulty in the first two rounds,
    then blocklisted (its actor restarted, itself excluded) and the job goes on."""
    rng = np.random.default_rng(2)
    code = MDSCode(7, 3, field=field)
    if field == "real":
        A, xs = rng.standard_normal((9, 16)), rng.standard_normal((4, 16))
    else:
        A, xs = rng.integers(0, field, (9, 16)), rng.integers(0, field, (4, 16))
    garbage = Corrupt("random", workers=[5])
    with Runtime(7, num_cpus_per_worker=CPUS, delays=garbage, byzantine=2) as rt:
        pid = ray_cluster.get(rt.pool.actors[5].health.remote())["pid"]
        op = rt.place(A, code=code)
        for y, x in zip(op.map(xs[:2], window=1), xs[:2], strict=True):
            np.testing.assert_allclose(y, A @ x if field == "real" else A @ x % field)
        assert [list(m.faulty) for m in rt.history] == [[5], [5]]
        assert list(rt.blocklist) == [5]
        for x in xs[2:]:
            np.testing.assert_allclose(op @ x, A @ x if field == "real" else A @ x % field)
            assert op.metrics.excluded == (5,) and 5 not in op.metrics.arrived
        assert _pid_once_up(ray_cluster, rt.pool.actors[5]) != pid  # re-placed: a new process


def _pid_once_up(ray, actor, timeout=60.0) -> int:
    """The process id of ``actor`` once it answers (it may still be restarting)."""
    end = time.monotonic() + timeout
    while True:
        try:
            return ray.get(actor.health.remote(), timeout=timeout)["pid"]
        except ray.exceptions.RayError:
            assert time.monotonic() < end, "the actor did not come back"
            time.sleep(0.2)


def _square_mod(block):
    return block * block % P_MAP


P_MAP = 2**31 - 1


def test_a_lagrange_map_is_exact_and_returns_before_its_stragglers(straggling):
    code = coded.LagrangeCode(8, 3, degree=2, field=P_MAP)  # threshold 5 of the 6 fast
    blocks = [np.random.default_rng(j).integers(0, P_MAP, (30, 4)) for j in range(3)]
    job = straggling.place_map(_square_mod, blocks, code=code)
    for _ in range(2):  # resident blocks: the second round sends no data
        got = job.run()
        for g, block in zip(got, blocks, strict=True):
            np.testing.assert_array_equal(g, block * block % P_MAP)
        assert job.metrics.wait_s < STRAGGLE / 2
        assert set(STRAGGLERS) <= set(job.metrics.cancelled)
    job.close()


def test_a_berrut_map_decodes_what_arrived_before_its_stragglers(straggling):
    blocks = [np.random.default_rng(j).standard_normal((20, 3)) * 0.3 for j in range(2)]
    got, metrics = straggling.map(
        np.tanh,
        blocks,
        code=coded.BerrutCode(8, 2),
        policy=coded.Approximate(responses=6),
        return_metrics=True,
    )
    assert metrics.wait_s < STRAGGLE / 2 and metrics.stopped_by == "6 responses"
    assert set(STRAGGLERS).isdisjoint(metrics.used)
    for g, block in zip(got, blocks, strict=True):
        assert np.abs(g - np.tanh(block)).max() < 0.1
