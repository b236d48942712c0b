"""Answers that are not results are erasures; wrong ones are corrected; liars are blocklisted."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pytest

from coded import MDSCode, UncorrectableError
from coded.scheduler.errors import RoundFailedError
from coded.scheduler.pool import InProcessPool
from coded.scheduler.round import run_round
from coded.scheduler.runtime import Runtime
from coded.scheduler.trust import Blocklist
from coded.workers.delays import Compose, Corrupt, FixedDelay
from coded.workers.kernels import Product

P = 7
BAD = {
    "nan": lambda r: np.full(r.shape, np.nan),
    "inf": lambda r: np.full(r.shape, np.inf),
    "complex": lambda r: r * 1j,
    "shape": lambda r: r[:-1],
    "gf-nan": lambda r: np.full(r.shape, np.nan),
    "gf-half": lambda r: r + 0.5,
    "gf-above-p": lambda r: r + P,
}


@dataclass(frozen=True)
class Spoiled:
    """The product, except that ``liar`` answers ``BAD[how]`` of its result."""

    inner: Product
    liar: int
    how: str

    def __call__(self, index, operands, args, cancelled=lambda: False, backend=None):
        value = self.inner(index, operands, args, cancelled, backend)
        return BAD[self.how](value) if index == self.liar else value


def _problem(how):
    field = P if how.startswith("gf") else "real"
    rng = np.random.default_rng(0)
    if field == "real":
        A, x = rng.standard_normal((4, 3)), rng.standard_normal(3)
    else:
        A, x = rng.integers(0, P, (4, 3)), rng.integers(0, P, 3)
    code = MDSCode(4, 2, field=field)
    truth = A @ x if field == "real" else A @ x % P
    return code, code.encode(A), x, truth, Product(P if field == P else None)


@pytest.mark.parametrize("how", list(BAD))
def test_a_bad_answer_is_an_erasure_and_a_named_failure_in_the_round(how):
    """MDS(4, 2) on a runtime: worker 0 answers garbage first, worker 1 next, so the round
    picks both; it goes back to waiting, decodes from workers 1 and 2 and names worker 0
    with the reason (injected delays set the order: 0 at once, 1 after 0.3 s, 2 after
    0.6 s, 3 after 1 s)."""
    code, shares, x, truth, product = _problem(how)
    order = Compose(*(FixedDelay(t, workers=[i]) for i, t in ((1, 0.3), (2, 0.6), (3, 1.0))))
    with Runtime(4, pool=InProcessPool(4, delays=order)) as rt:
        job = rt.place_job([(s,) for s in shares], Spoiled(product, 0, how), code)
        y, metrics = job.run(x), job.metrics
    np.testing.assert_allclose(y, truth)
    assert 0 not in metrics.used and 0 in metrics.failures and 0 in metrics.faulty
    assert metrics.failures[0] == metrics.faulty[0]


@pytest.mark.parametrize("how", list(BAD))
def test_a_bad_answer_is_never_decoded_by_code_decode(how):
    """The same three answers given straight to ``decode``: it never picks the bad one."""
    code, shares, x, truth, _ = _problem(how)
    responses = {i: shares[i] @ x % P if code.field.exact else shares[i] @ x for i in range(3)}
    responses[0] = BAD[how](responses[0])
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(code.decode(responses), truth)
    assert 0 in code.screen(responses)[1]


def test_bad_answers_that_leave_too_few_wait_for_more_then_fail_naming_them():
    """MDS(4, 3): worker 0 answers NaN; the round waits for the slow fourth and decodes from
    it. With two liars it fails, naming both."""
    code, A, x = MDSCode(4, 3), np.arange(12.0).reshape(4, 3), np.ones(3)
    shares = [(s,) for s in code.encode(A)]
    with InProcessPool(4, delays=FixedDelay(0.3, workers=[3])) as pool:
        pool.place(0, shares, _Liars(Product(), (0,)))
        y, metrics = run_round(pool, code, 0, 0, (x,), deadline=30)
        np.testing.assert_allclose(y, A @ x)
        assert sorted(metrics.faulty) == [0] and metrics.used == (1, 2, 3)
        pool.place(1, shares, _Liars(Product(), (0, 1)))
        with pytest.raises(RoundFailedError, match="worker 0: NaN or Inf.*worker 1: NaN or Inf"):
            run_round(pool, code, 1, 1, (x,), deadline=30)


@dataclass(frozen=True)
class _Liars:
    inner: Product
    liars: tuple

    def __call__(self, index, operands, args, cancelled=lambda: False, backend=None):
        value = self.inner(index, operands, args, cancelled, backend)
        return np.full(value.shape, np.nan) if index in self.liars else value


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf - inf on the workers
def test_all_non_finite_answers_are_the_data_overflowing_not_faulty_workers():
    code = MDSCode(4, 2)
    with InProcessPool(4) as pool:
        pool.place(0, [(s,) for s in code.encode(np.ones((4, 2)))], Product())
        with np.errstate(all="ignore"):
            y, metrics = run_round(pool, code, 0, 0, (np.full(2, np.inf),), deadline=30)
    assert not np.isfinite(y).any() and not metrics.faulty and not metrics.failures


# -- byzantine ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Liar:
    """The product, plus one in every entry of worker ``liar``'s answer (valid, wrong)."""

    inner: Product
    liar: int

    def __call__(self, index, operands, args, cancelled=lambda: False, backend=None):
        value = self.inner(index, operands, args, cancelled, backend)
        return (value + 1) % self.inner.p if index == self.liar else value


def test_byzantine_rounds_correct_a_liar_name_it_and_blocklist_it(caplog):
    code, p = MDSCode(7, 3, field=65537), 65537
    rng = np.random.default_rng(1)
    A, xs = rng.integers(0, p, (6, 5)), rng.integers(0, p, (6, 5))
    with Runtime(7, pool=InProcessPool(7), byzantine=2, blocklist=(2, 3)) as rt:
        job = rt.place_job([(s,) for s in code.encode(A)], _Liar(Product(p), 4), code)
        with caplog.at_level(logging.WARNING, logger="coded.scheduler"):
            for x in xs[:3]:
                assert (job.run(x) == A @ x % p).all()
        first, second, third = list(rt.history)
        assert first.needed == second.needed == 7  # 3 + 2·2
        assert list(first.faulty) == [4] and "inconsistent" in first.faulty[4]
        assert list(second.faulty) == [4] and rt.blocklist == {4: second.faulty[4]}
        assert third.excluded == (4,) and 4 not in third.arrived and third.needed == 5
        assert "worker 4 blocklisted" in caplog.text
        rt.pardon(4)
        assert rt.blocklist == {}


def test_more_liars_than_assumed_wait_for_two_more_answers_then_are_corrected():
    """byzantine=1, but workers 0 and 1 both lie and answer first: the first five answers
    cannot be corrected, so the round assumes two liars and waits for all seven."""
    code, p = MDSCode(7, 3, field=65537), 65537
    rng = np.random.default_rng(2)
    A, x = rng.integers(0, p, (6, 5)), rng.integers(0, p, 5)
    delays = Compose(Corrupt("random", workers=[0, 1]), FixedDelay(0.3, workers=[5, 6]))
    with Runtime(7, pool=InProcessPool(7, delays=delays), byzantine=1, blocklist=None) as rt:
        op = rt.place(A, code=code)
        assert (op @ x == A @ x % p).all()
        assert sorted(op.metrics.faulty) == [0, 1] and op.metrics.needed == 7
        assert len(op.metrics.arrived) == 7


def test_too_many_liars_for_the_workers_left_is_uncorrectable_not_wrong():
    code = MDSCode(5, 3, field=65537)
    A, x = np.arange(30).reshape(6, 5), np.arange(5)
    with Runtime(
        5,
        pool=InProcessPool(5, delays=Corrupt("random", workers=[0, 1])),
        byzantine=1,
        blocklist=None,
    ) as rt:
        op = rt.place(A, code=code)
        with pytest.raises(UncorrectableError, match="byzantine=1"):
            op @ x


def test_byzantine_is_checked_against_the_code_before_any_round():
    with Runtime(4, pool=InProcessPool(4), byzantine=2) as rt:
        with pytest.raises(ValueError, match=r"Argument 'byzantine' .* 2 \+ 2·2 = 6 > n=4"):
            rt.place(np.ones((4, 2)), code=MDSCode(4, 2))
    with pytest.raises(ValueError, match="Argument 'byzantine' must be at least 0, not -1"):
        Runtime(4, pool=InProcessPool(4), byzantine=-1)
    with pytest.raises(ValueError, match="Argument 'strikes' must be at most rounds=2, not 3"):
        Runtime(4, pool=InProcessPool(4), blocklist=(3, 2))


def test_a_blocklist_counts_strikes_in_a_window_of_rounds():
    blocklist = Blocklist(3, strikes=2, rounds=2)
    assert blocklist.record([0, 1, 2], {1: "x"}) == []
    assert blocklist.record([0, 1, 2], {}) == []
    assert blocklist.record([0, 1, 2], {1: "y"}) == []  # the first strike left the window
    assert blocklist.record([0, 1, 2], {1: "z"}) == [1] and blocklist.blocked == {1: "z"}


@pytest.mark.parametrize("kind", ["random", "sign", "scale", "bits", "nan"])
def test_injected_wrong_answers_are_corrected_over_the_reals(kind):
    """Worker 2 corrupts every result (``Corrupt``, from the delay library); MDS(7, 3) with
    byzantine=2 decodes within float64 accuracy, names it, and blocklists it."""
    rng = np.random.default_rng(4)
    A, xs = rng.standard_normal((6, 40)), rng.standard_normal((3, 40))
    pool = InProcessPool(7, delays=Corrupt(kind, workers=[2], count=6))
    with Runtime(7, pool=pool, byzantine=2) as rt:
        op = rt.place(A, code=MDSCode(7, 3))
        for x in xs:
            np.testing.assert_allclose(op @ x, A @ x, rtol=1e-9, atol=1e-9)
        assert [list(m.faulty) for m in rt.history] == [[2], [2], []]
        assert list(rt.blocklist) == [2] and rt.history[-1].excluded == (2,)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf - inf on the workers
def test_with_byzantine_too_all_non_finite_answers_decode_as_non_finite():
    """A diverging computation (every answer NaN) is no worker's fault: the result is NaN,
    nobody is faulty, so a training driver sees it and says the run diverged."""
    code = MDSCode(5, 3)
    with Runtime(5, pool=InProcessPool(5), byzantine=1) as rt:
        job = rt.place_job([(s,) for s in code.encode(np.ones((6, 2)))], Product(), code)
        with np.errstate(all="ignore"):
            y = job.run(np.full(2, np.inf))
        assert np.isnan(y).all() and not job.metrics.faulty and not rt.blocklist
