"""Runtime.map on the in-process pool: Lagrange maps exact over GF(p) and guarded over the
reals, resident blocks, broadcast arguments, stragglers, wrong answers and bad functions."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import coded
from coded import LagrangeCode, UncorrectableError
from coded.scheduler.errors import RoundFailedError
from coded.scheduler.pool import InProcessPool
from coded.scheduler.runtime import Runtime
from coded.workers.delays import Corrupt, FixedDelay

P = 2**31 - 1


def lsq_gradient(block, w):
    """The LCC paper's least-squares gradient ``Xᵀ(Xw − y)`` of a block ``[X | y]``, mod P:
    degree 2 in the block."""
    X, y = block[:, :-1], block[:, -1]
    return coded.gf_matmul(X.T, (coded.gf_matmul(X, w, P) + (P - y)) % P, P)


def real_lsq_gradient(block, w):
    X, y = block[:, :-1], block[:, -1]
    return X.T @ (X @ w - y)


def _times_nan(block):
    return block * np.nan


def cube(block):
    return block**3


def _blocks(k, rows=6, columns=4, p=P, seed=0):
    return [np.random.default_rng(seed + j).integers(0, 100, (rows, columns)) % p for j in range(k)]


def _on_worker(*workers):
    """Whether the calling thread is one of these in-process workers (their threads are
    named ``worker<i>_0``)."""
    return any(threading.current_thread().name.startswith(f"worker{i}_") for i in workers)


class RaiseOn:
    def __init__(self, *workers):
        self.workers = workers

    def __call__(self, block):
        if _on_worker(*self.workers):
            raise ZeroDivisionError("the data had a zero")
        return block * 2.0


class BadOutputOn:
    def __init__(self, output, *workers):
        self.output, self.workers = output, workers

    def __call__(self, block):
        return self.output if _on_worker(*self.workers) else block * 2.0


def test_a_lagrange_map_is_exact_over_gf_p_and_returns_before_the_stragglers():
    code = LagrangeCode(8, 3, degree=2, field=P)  # threshold (3 − 1)·2 + 1 = 5
    blocks, w = _blocks(3), np.arange(1, 4)
    pool = InProcessPool(8, delays=FixedDelay(30.0, workers=(1, 6)))
    with Runtime(8, pool=pool) as rt:
        grads, metrics = rt.map(lsq_gradient, blocks, code=code, args=(w,), return_metrics=True)
    for got, block in zip(grads, blocks, strict=True):
        np.testing.assert_array_equal(got, lsq_gradient(block, w))
    assert len(metrics.used) == 5 and {1, 6} <= set(metrics.cancelled)
    assert metrics.total_s < 10


def test_resident_blocks_answer_every_round_with_its_own_arguments():
    blocks = [np.random.default_rng(j).standard_normal((20, 5)) for j in range(3)]
    with Runtime(7, pool=InProcessPool(7)) as rt:
        job = rt.place_map(real_lsq_gradient, blocks, code=LagrangeCode(7, 3, degree=2))
        for seed in range(3):
            w = np.random.default_rng(10 + seed).standard_normal(4)
            got = job.run(w)
            for g, block in zip(got, blocks, strict=True):
                np.testing.assert_allclose(g, real_lsq_gradient(block, w), rtol=1e-9, atol=1e-9)
        assert len(job.history) == 3 and job.history[0].encode_s > 0


def test_privacy_masks_keep_the_map_exact():
    code = LagrangeCode(10, 2, degree=2, privacy=2, field=P)  # threshold (2 + 2 − 1)·2 + 1
    blocks, w = _blocks(2), np.arange(3)
    with Runtime(10, pool=InProcessPool(10)) as rt:
        grads = rt.map(lsq_gradient, blocks, code=code, args=(w,))
    for got, block in zip(grads, blocks, strict=True):
        np.testing.assert_array_equal(got, lsq_gradient(block, w))


def test_a_lying_worker_is_corrected_and_named():
    code = LagrangeCode(9, 2, degree=2, field=P)  # threshold 3, + 2·2 for byzantine=2
    blocks, w = _blocks(2), np.arange(3)
    pool = InProcessPool(9, delays=Corrupt("random", workers=(4,)))
    with Runtime(9, pool=pool, byzantine=2) as rt:
        grads, metrics = rt.map(lsq_gradient, blocks, code=code, args=(w,), return_metrics=True)
    for got, block in zip(grads, blocks, strict=True):
        np.testing.assert_array_equal(got, lsq_gradient(block, w))
    assert list(metrics.faulty) == [4]


@pytest.mark.parametrize("field", ["real", P], ids=["real", "GF"])
def test_a_degree_above_the_declared_one_is_refused_when_extra_answers_disagree(field):
    code = LagrangeCode(8, 3, degree=2, field=field)  # f is a cube: degree 3
    blocks = _blocks(3, p=P) if field == P else [np.eye(3) * (j + 1) for j in range(3)]
    f = (lambda b: b * b % P * b % P) if field == P else cube
    with Runtime(8, pool=InProcessPool(8)) as rt:
        with pytest.raises(UncorrectableError, match="f has a degree above degree=2"):
            rt.map(f, blocks, code=code, verify=1)


def test_verify_passes_a_polynomial_of_the_declared_degree():
    code = LagrangeCode(9, 3, degree=3, field=P)  # threshold 7
    blocks = _blocks(3)
    with Runtime(9, pool=InProcessPool(9)) as rt:
        got, metrics = rt.map(
            lambda b: b * b % P * b % P, blocks, code=code, verify=2, return_metrics=True
        )
    assert metrics.needed == code.recovery_threshold + 2
    for g, block in zip(got, blocks, strict=True):
        np.testing.assert_array_equal(g, block * block % P * block % P)


def test_f_raising_on_one_worker_is_an_erasure_named_with_its_exception():
    blocks = [np.ones((2, 2)) * j for j in range(3)]
    with Runtime(7, pool=InProcessPool(7)) as rt:
        got, metrics = rt.map(
            RaiseOn(2), blocks, code=LagrangeCode(7, 3, degree=1), return_metrics=True
        )
    assert all(np.allclose(g, 2.0 * b) for g, b in zip(got, blocks, strict=True))
    if 2 in metrics.failures:  # it may have been cancelled before it ran
        assert metrics.failures[2].startswith("ZeroDivisionError: the data had a zero")


def test_f_raising_everywhere_fails_the_round_naming_each_worker():
    with Runtime(4, pool=InProcessPool(4)) as rt:
        with pytest.raises(
            RoundFailedError, match=r"worker \d: ZeroDivisionError: the data"
        ) as info:
            rt.map(RaiseOn(0, 1, 2, 3), [np.ones(2)] * 2, code=LagrangeCode(4, 2, degree=1))
    assert len(info.value.failures) >= 3  # the round fails once 2 answers cannot come


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        (np.full((2, 2), np.nan), "ValueError: f returned NaN or Inf on worker 1's share"),
        ("text", "TypeError: f must return a non-empty array of real numbers, not 'text'"),
        (np.ones(3), "its shape (3,) must be (2, 2)"),
    ],
    ids=["non-finite", "dtype", "shape"],
)
def test_a_bad_output_on_a_worker_is_an_erasure_naming_it(output, reason):
    blocks = [np.ones((2, 2)) * j for j in range(3)]
    delays = FixedDelay(0.3, workers=(0, 2, 3, 4, 5, 6))  # worker 1 answers first
    code = LagrangeCode(7, 3, degree=1)  # threshold 3
    with Runtime(7, pool=InProcessPool(7, delays=delays)) as rt:
        got, metrics = rt.map(BadOutputOn(output, 1), blocks, code=code, return_metrics=True)
    assert all(np.allclose(g, 2.0 * b) for g, b in zip(got, blocks, strict=True))
    assert metrics.failures[1].startswith(reason) and 1 not in metrics.used


def test_non_finite_output_everywhere_fails_the_round():
    with Runtime(3, pool=InProcessPool(3)) as rt:
        with pytest.raises(
            RoundFailedError,
            match=r"worker (\d): ValueError: f returned NaN or Inf on worker \1's share",
        ):
            rt.map(_times_nan, [np.ones(2)] * 2, code=LagrangeCode(3, 2, degree=1))


def test_f_that_does_not_pickle_is_refused_before_any_worker_runs():
    lock = threading.Lock()
    with Runtime(3, pool=InProcessPool(3)) as rt:
        with pytest.raises(TypeError, match="Argument 'f' must pickle to reach the workers"):
            rt.place_map(lambda b: b if lock else b, [np.ones(2)] * 2, code=LagrangeCode(3, 2, 1))
        assert rt.rounds_run == 0


def test_f_named_as_module_function():
    blocks = [np.full(3, float(j)) for j in range(2)]
    with Runtime(4, pool=InProcessPool(4)) as rt:
        got = rt.map("numpy:multiply", blocks, code=LagrangeCode(4, 2, 2), args=(np.arange(3),))
    assert all(np.allclose(g, b * np.arange(3)) for g, b in zip(got, blocks, strict=True))


# -- approximate codes: the round's policy -------------------------------------------------
def _smooth(block):
    return np.tanh(block)


def _berrut_blocks(k, seed=0):
    return [np.random.default_rng(seed + j).standard_normal((4, 3)) * 0.5 for j in range(k)]


def test_an_approximate_round_stops_at_the_policy_responses_and_records_why():
    code, blocks = coded.BerrutCode(8, 2), _berrut_blocks(2)
    pool = InProcessPool(8, delays=FixedDelay(30.0, workers=(3, 5)))
    with Runtime(8, pool=pool) as rt:
        got, metrics = rt.map(
            _smooth, blocks, code=code, policy=coded.Approximate(responses=6), return_metrics=True
        )
    assert len(metrics.used) == 6 and {3, 5} <= set(metrics.cancelled)
    assert metrics.stopped_by == "6 responses" and "responses=6" in metrics.policy
    assert metrics.error_estimate == pytest.approx(code.error_estimate(metrics.used))
    for g, block in zip(got, blocks, strict=True):
        assert np.abs(g - np.tanh(block)).max() < 0.1


def test_the_default_policy_waits_for_all_but_a_quarter():
    with Runtime(8, pool=InProcessPool(8)) as rt:
        _, metrics = rt.map(
            _smooth, _berrut_blocks(2), code=coded.BerrutCode(8, 2), return_metrics=True
        )
    assert len(metrics.used) >= 6 and metrics.stopped_by.endswith("responses")


def test_the_wait_rule_returns_what_arrived_by_then():
    delays = FixedDelay(30.0, workers=(0, 1, 2, 3, 4))  # three answer at once, five never
    with Runtime(8, pool=InProcessPool(8, delays=delays)) as rt:
        policy = coded.Approximate(responses=8, wait=0.5)
        got, metrics = rt.map(
            _smooth,
            _berrut_blocks(2),
            code=coded.BerrutCode(8, 2),
            policy=policy,
            return_metrics=True,
        )
    assert metrics.used == (5, 6, 7) and metrics.stopped_by == "wait 0.5 s"
    assert 0.5 <= metrics.total_s < 5


def test_the_tolerance_rule_stops_once_the_estimate_meets_it():
    code = coded.BerrutCode(16, 2)
    tolerance = code.error_estimate(range(0, 16, 2))  # eight spread-out answers meet it
    delays = FixedDelay(30.0, workers=tuple(range(1, 16, 2)))
    with Runtime(16, pool=InProcessPool(16, delays=delays)) as rt:
        policy = coded.Approximate(tolerance=tolerance)
        _, metrics = rt.map(
            _smooth, _berrut_blocks(2), code=code, policy=policy, return_metrics=True
        )
    assert metrics.stopped_by.startswith("tolerance") and metrics.error_estimate <= tolerance
    assert set(metrics.used) <= set(range(0, 16, 2))


def test_failures_lower_the_responses_an_approximate_round_waits_for():
    with Runtime(6, pool=InProcessPool(6)) as rt:
        got, metrics = rt.map(
            RaiseOn(0, 1),
            _berrut_blocks(2),
            code=coded.BerrutCode(6, 2),
            policy=coded.Approximate(responses=6),
            return_metrics=True,
        )
    assert metrics.used == (2, 3, 4, 5) and sorted(metrics.failures) == [0, 1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"code": LagrangeCode(4, 2, 1), "policy": coded.Approximate(responses=3)},
            "Argument 'policy' applies to approximate codes",
        ),
        (
            {"code": coded.BerrutCode(4, 2), "policy": coded.Approximate(responses=5)},
            "Argument 'policy' must ask for at most n=4 responses, not 5",
        ),
        ({"code": coded.BerrutCode(4, 2), "verify": 1}, "Argument 'verify' must be 0 with"),
        ({"code": coded.MDSCode(4, 2)}, "Argument 'code' must be a code whose workers apply f"),
    ],
    ids=["policy-exact", "policy-too-many", "verify-approximate", "matrix-code"],
)
def test_map_options_are_checked_before_a_round(kwargs, message):
    with Runtime(4, pool=InProcessPool(4)) as rt:
        with pytest.raises((ValueError, TypeError), match=message):
            rt.map(_smooth, [np.ones(2)] * 2, **kwargs)
        assert rt.rounds_run == 0


def test_approximate_codes_refuse_byzantine():
    with Runtime(4, pool=InProcessPool(4), byzantine=1) as rt:
        with pytest.raises(ValueError, match="Argument 'byzantine' must be 0 with BerrutCode"):
            rt.map(_smooth, [np.ones(2)] * 2, code=coded.BerrutCode(4, 2))


class _PlacementCounter(InProcessPool):
    def __init__(self, n):
        super().__init__(n)
        self.placed = 0

    def place(self, job, shards, kernel):
        self.placed += 1
        super().place(job, shards, kernel)


def test_one_shot_maps_place_f_once_and_send_each_share_with_its_round():
    pool = _PlacementCounter(5)
    code = LagrangeCode(5, 2, degree=2)
    with Runtime(5, pool=pool) as rt:
        for seed in range(3):
            blocks = [np.random.default_rng(seed + j).standard_normal((3, 2)) for j in range(2)]
            got = rt.map(np.square, blocks, code=code)
            assert all(np.allclose(g, b * b) for g, b in zip(got, blocks, strict=True))
        rt.map("numpy:square", blocks, code=code)
    assert pool.placed == 2  # np.square once, 'numpy:square' once
