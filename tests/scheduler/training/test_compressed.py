"""Compressed coded training: the decoded gradient unbiased, QSGD training down to a noise
floor, DIANA to the exact optimum under stragglers, error feedback with top-k, the bytes
on the wire recorded, and the compressors that cannot work refused before anything starts."""

from __future__ import annotations

import math

import numpy as np
import pytest

import coded
from coded import GradientCode
from coded.compression import NUQSGD, QSGD, AdaptiveQuantizer, Diana, ErrorFeedback, TopK
from coded.losses import LeastSquaresLoss
from coded.optim import GD, NewtonCG
from coded.scheduler.pool import InProcessPool
from coded.wire import Uplink
from coded.workers.delays import FixedDelay
from coded.workers.kernels import Gradient, partition_operands

from .runs import kill_and_wait_for_restart


def _data(rows=96, cols=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, cols))
    return X, X @ rng.standard_normal(cols) + 0.1 * rng.standard_normal(rows)


def _train(X, y, n=4, delays=None, **kwargs):
    with coded.Runtime(n, pool=InProcessPool(n, delays=delays)) as rt:
        return coded.train(X, y, runtime=rt, progress=False, **kwargs)


def _decoded(code, kernel, operands, w, t, used):
    """The master's decode of the kernel's messages of the workers ``used``, received."""
    receive = (lambda i, m: m) if kernel.uplink is None else kernel.uplink.receive
    return code.decode({i: receive(i, kernel(i, operands[i], (w, t))) for i in used})


@pytest.mark.parametrize("quantizer", [QSGD(2), NUQSGD(2)], ids=["QSGD(2)", "NUQSGD(2)"])
def test_decoded_gradient_is_unbiased_over_seeds(quantizer):
    n, s, draws = 5, 2, 600
    X, y = _data(rows=40, cols=6)
    code = GradientCode(n, s)
    parts = [(X[r], y[r]) for r in np.array_split(np.arange(len(X)), n)]
    operands = [partition_operands(parts, held) for held in code.assignment]
    exact_kernel = Gradient(LeastSquaresLoss(), code)
    w, used = np.full(6, 0.3), (0, 2, 4)
    exact = _decoded(code, exact_kernel, operands, w, 0, used)
    samples = np.array(
        [
            _decoded(
                code,
                Gradient(LeastSquaresLoss(), code, None, Uplink(quantizer, 6, seed=seed)),
                operands,
                w,
                0,
                used,
            )
            for seed in range(draws)
        ]
    )
    error = np.abs(samples.mean(axis=0) - exact)
    standard_error = samples.std(axis=0) / math.sqrt(draws)
    assert standard_error[:-1].min() > 0  # the gradient is noisy: the test could fail
    assert np.all(error[:-1] <= 5 * standard_error[:-1] + 1e-6 * np.linalg.norm(exact))
    np.testing.assert_allclose(samples[:, -1], exact[-1], rtol=1e-6)  # the loss: a float32


def test_same_seed_same_run_other_seed_other_run():
    """Reproducible given the workers decoded from (all of them here: with stragglers the
    first decodable set, and so the noise, depends on who finishes first)."""
    X, y = _data()
    kwargs = {"optimizer": GD(0.1), "iterations": 5, "method": "uncoded", "compressor": QSGD(2)}
    runs = [_train(X, y, compression_seed=seed, **kwargs) for seed in (0, 0, 1)]
    np.testing.assert_array_equal(runs[0].weights, runs[1].weights)
    assert not np.array_equal(runs[0].weights, runs[2].weights)


@pytest.mark.parametrize(
    "compressor", [QSGD(7), AdaptiveQuantizer(3, refit_every=5)], ids=["QSGD(7)", "ALQ(3)"]
)
def test_training_with_quantised_messages_reaches_a_noise_floor(compressor):
    """Least squares: the exact run converges to the optimum; the quantised one comes close
    and stalls at a floor (a constant step; DIANA removes it, below)."""
    X, y = _data(rows=200, cols=8)
    optimum = np.linalg.lstsq(X, y, rcond=None)[0]
    floor = 0.5 * np.mean((X @ optimum - y) ** 2)
    exact = _train(X, y, optimizer=GD(0.3), iterations=150)
    quantised = _train(X, y, optimizer=GD(0.3), iterations=150, compressor=compressor)
    start = quantised.history.losses[0]
    assert exact.history.losses[-1] == pytest.approx(floor, rel=1e-9)
    assert quantised.history.losses[-1] < floor + 1e-3 * (start - floor)
    distance = np.linalg.norm(quantised.weights - optimum)
    assert 1e-9 < distance < 0.05 * np.linalg.norm(optimum)  # close, not exact
    assert not quantised.history.exact and exact.history.exact


def test_bytes_recorded_quantised_under_an_eighth_of_float32():
    """d = 1000: QSGD(7) sends 32 + 1000 · (1 + 3) bits and the loss as a float32, 508 bytes,
    against (1000 + 1) · 4 = 4004 bytes as float32 and 8008 as float64."""
    n, d = 4, 1000
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2 * n, d))
    y = rng.standard_normal(2 * n)
    kwargs = {"optimizer": GD(1e-3), "iterations": 2, "s": 1}
    plain = _train(X, y, n=n, **kwargs).history
    quantised = _train(X, y, n=n, compressor=QSGD(7), **kwargs).history
    for history in (plain, quantised):
        np.testing.assert_array_equal(history.series("bytes_down"), [8 * d, 8 * d])
    arrived = plain.series("bytes_up") / (8 * (d + 1))
    assert np.all(arrived >= n - 1) and np.all(arrived == arrived.round())
    per_message = quantised.series("bytes_up") / np.round(quantised.series("bytes_up") / 508)
    np.testing.assert_array_equal(per_message, [508, 508])
    assert 508 <= 4 * (d + 1) / 7
    assert quantised.config["compressor"] == "QSGD(levels=7)"


def test_uncoded_and_mds_runs_record_bytes_too():
    X, y = _data(rows=48, cols=5)
    uncoded = _train(X, y, method="uncoded", optimizer=GD(0.1), iterations=2).history
    np.testing.assert_array_equal(uncoded.series("bytes_up"), [4 * 8 * 6] * 2)  # n · (d + 1)
    mds = _train(X, y, method="mds", optimizer=GD(0.1), iterations=2, s=1).history
    # forward: w down, ⌈48/3⌉ scores from each of ≥ 3 workers; backward: r down, ⌈5/3⌉ each
    assert np.all(mds.series("bytes_down") == 8 * (5 + 48))
    assert np.all(mds.series("bytes_up") >= 3 * 8 * (16 + 2))


def _gradient_norm(X, y, w) -> float:
    return float(np.linalg.norm(X.T @ (X @ w - y)) / len(X))


def test_diana_reaches_the_exact_optimum_under_stragglers_where_qsgd_stalls():
    """Full-batch GD on least squares, the cyclic code (6, 1), worker 2 late every round so
    its messages are cancelled or never read: DIANA's shifts stay in step through the
    acknowledgements and its noise vanishes at the optimum (gradient norm ≤ 1e-8), while
    QSGD at the same bits per coordinate stalls at a noise floor."""
    X, y = _data(rows=240, cols=8, seed=3)
    n, late = 6, FixedDelay(0.5, workers=[2])  # never in time, even on a loaded machine
    kwargs = {"n": n, "s": 1, "optimizer": GD(0.3), "iterations": 300, "delays": late}
    diana = _train(X, y, compressor=Diana(QSGD(2), alpha=0.2, n=n), **kwargs)
    qsgd = _train(X, y, compressor=QSGD(2), **kwargs)
    assert _gradient_norm(X, y, diana.weights) <= 1e-8
    assert _gradient_norm(X, y, qsgd.weights) > 1e-4
    assert all(2 not in record.workers for record in diana.history.records)
    # the wire: 4 bytes of count, 8 bits of norm... : one size for every message
    per_message = Uplink(Diana(QSGD(2), 0.2, n), 8).message_bytes
    assert per_message == 4 + math.ceil((32 + 8 * (1 + 2)) / 8) + 4
    arrived = diana.history.series("bytes_up") / per_message
    np.testing.assert_array_equal(arrived, arrived.round())


def test_a_quantised_broadcast_with_diana_still_reaches_the_exact_optimum():
    """Both directions compressed: the model goes down as QSGD updates of the workers' copy
    x̂ (a whole model every 50), the messages up as DIANA differences. The update's error is
    that of quantising one step, which vanishes at the optimum with the steps."""
    X, y = _data(rows=240, cols=8, seed=3)
    n, late = 6, FixedDelay(0.5, workers=[2])  # never in time, even on a loaded machine
    kwargs = {"n": n, "s": 1, "optimizer": GD(0.3), "iterations": 300, "delays": late}
    both = _train(X, y, compressor=Diana(QSGD(2), 0.2, n), broadcast_compressor=QSGD(2), **kwargs)
    assert _gradient_norm(X, y, both.weights) <= 1e-8
    down = both.history.series("bytes_down")
    update = 5 + math.ceil((32 + 8 * (1 + 2)) / 8)  # count, kind, norm and 3 bits each
    keyframes = np.arange(len(down)) % 50 == 0
    assert np.all(down[keyframes] == 5 + 8 * 8) and np.all(down[~keyframes] == update)
    assert both.history.config["broadcast_compressor"] == "QSGD(levels=2)"
    assert not both.history.exact


@pytest.mark.ray
def test_on_ray_diana_bytes_travel_and_a_restarted_worker_resets_its_shift(ray_cluster):
    """On Ray actors the answers are the bytes; worker 3 is killed at iteration 20 and
    comes back with no shift and count 0: the master recognises it, resets its copy, and
    DIANA still reaches the optimum exactly."""
    X, y = _data(rows=240, cols=8, seed=3)
    kwargs = {"optimizer": GD(0.3), "iterations": 300, "s": 1, "progress": False}
    runtime = coded.Runtime(6, num_cpus_per_worker=0.5, deadline=30)

    def kill_one(t, w, record):
        if t == 20:
            kill_and_wait_for_restart(ray_cluster, runtime.pool.actors[3])

    with runtime:
        diana = Diana(QSGD(2), alpha=0.2, n=6)
        result = coded.train(X, y, compressor=diana, runtime=runtime, callback=kill_one, **kwargs)
        rounds = list(runtime.history)
    assert _gradient_norm(X, y, result.weights) <= 1e-8
    assert 3 not in rounds[21].arrived and any(3 in m.used for m in rounds[30:])


@pytest.mark.parametrize(("method", "scheme"), [("uncoded", "cyclic"), ("coded", "fractional")])
def test_error_feedback_with_top_k_trains_where_coefficients_are_fixed(method, scheme):
    """Top-k of 2 of 8 coordinates with error feedback converges near the optimum (a
    constant step leaves an O(γ) neighbourhood); its messages are 2 · (3 + 32) bits."""
    X, y = _data(rows=240, cols=8, seed=4)
    optimum = np.linalg.lstsq(X, y, rcond=None)[0]
    kwargs = {"n": 4, "s": 1, "optimizer": GD(0.2), "iterations": 400, "method": method}
    result = _train(X, y, compressor=ErrorFeedback(TopK(2)), scheme=scheme, **kwargs)
    distance = np.linalg.norm(result.weights - optimum) / np.linalg.norm(optimum)
    assert distance < 1e-2  # measured 1.4e-3 uncoded
    assert result.history.config["compressor"] == "ErrorFeedback(TopK(k=2))"


@pytest.mark.parametrize(
    ("compressor", "kwargs", "match"),
    [
        (TopK(3), {}, "not TopK\\(k=3\\): top-k is biased"),
        (ErrorFeedback(TopK(3)), {}, "not ErrorFeedback\\(TopK\\(k=3\\)\\): error feedback"),
        (ErrorFeedback(QSGD(2)), {"method": "ignore"}, "coefficients that change"),
        (Diana(QSGD(2), 0.5, 3), {}, "be a Diana for the n=4 workers, not Diana"),
        ("qsgd", {}, "Diana or ErrorFeedback, not 'qsgd'"),
    ],
    ids=["top-k", "error-feedback-cyclic", "error-feedback-ignore", "diana-n", "a-string"],
)
def test_compressors_that_cannot_work_are_refused_before_anything_starts(compressor, kwargs, match):
    X, y = _data()
    with pytest.raises(ValueError, match=f"Argument 'compressor' must.*{match}"):
        coded.train(X, y, lr=0.1, compressor=compressor, n=4, iterations=1, **kwargs)


def test_compression_needs_a_gradient_method_and_levels_are_checked():
    X, y = _data()
    with pytest.raises(ValueError, match="'compressor' needs a first-order method .* 'mds'"):
        coded.train(X, y, lr=0.1, method="mds", compressor=QSGD(2), n=4, iterations=1)
    with pytest.raises(ValueError, match="'compressor' needs a first-order .* NewtonCG"):
        coded.train(X, y, optimizer=NewtonCG(), compressor=QSGD(2), n=4, iterations=1)
    with pytest.raises(ValueError, match="'broadcast_compressor' needs a first-order .* 'mds'"):
        coded.train(X, y, lr=0.1, method="mds", broadcast_compressor=QSGD(2), n=4, iterations=1)
    with pytest.raises(ValueError, match="'broadcast_compressor' must be None or an unbiased"):
        coded.train(X, y, lr=0.1, broadcast_compressor=Diana(QSGD(2), 0.5, 4), n=4, iterations=1)
    with pytest.raises(ValueError, match="'compression_seed' must be at least 0, not -1"):
        coded.train(X, y, lr=0.1, compressor=QSGD(2), compression_seed=-1, n=4, iterations=1)
    with pytest.raises(ValueError, match="Argument 'levels' must be at least 1, not 0."):
        QSGD(levels=0)
