"""Runtime and operators on the in-process pool: inputs checked before dispatch, API surface."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coded
import coded.scheduler.api
from coded import MDSCode
from coded.replication import Replication
from coded.scheduler.errors import ClosedError
from coded.scheduler.pool import InProcessPool
from coded.scheduler.runtime import CodedOperator, Job, Runtime, default_code, operand_count
from coded.workers.delays import FixedDelay
from coded.workers.kernels import Product


class _CountingPool(InProcessPool):
    def __init__(self, n):
        super().__init__(n)
        self.submitted = 0

    def submit(self, worker, tag, args):
        self.submitted += 1
        return super().submit(worker, tag, args)


@pytest.fixture
def rt():
    with Runtime(4, pool=_CountingPool(4)) as runtime_:
        yield runtime_


@pytest.mark.parametrize(
    ("A", "B", "code", "error", "message"),
    [
        (
            np.ones((4, 3)),
            np.ones((2, 2)),
            None,
            ValueError,
            r"Argument 'B' must have 3 rows to multiply A",
        ),
        (np.ones((4, 3)), np.full((3, 2), np.nan), None, ValueError, "Argument 'B' must be finite"),
        (np.full((4, 3), np.inf), np.ones((3, 2)), None, ValueError, "Argument 'A' must be finite"),
        (np.ones(4), np.ones(4), None, ValueError, r"Argument 'A' must be a 2-D array, not 1-D"),
        (
            np.ones((0, 3)),
            np.ones(3),
            None,
            ValueError,
            r"'A' must not be empty, not of shape \(0, 3\)",
        ),
        (
            np.ones((4, 3)),
            np.ones((3, 0)),
            None,
            ValueError,
            r"'B' must not be empty, not of shape",
        ),
        ([[1.0, 2.0], [3.0]], np.ones(2), None, ValueError, "Argument 'A' must be a rectangular"),
        (
            np.ones((4, 3)),
            np.ones(3),
            MDSCode(6, 4),
            ValueError,
            "must have n=4 workers like the runtime, not n=6",
        ),
        (
            np.ones((4, 3)),
            np.ones(3),
            "MDS",
            TypeError,
            r"Argument 'code' must be a coded.Code, e.g. .*, not 'MDS' \(str\)\.",
        ),
        (
            np.ones((4, 3)),
            np.ones(3),
            coded.LagrangeCode(4, 2, 1),
            TypeError,
            "must be a matrix-product code",
        ),
        (
            np.ones((4, 3), dtype=int),
            np.full(3, 7),
            MDSCode(4, 2, field=5),
            ValueError,
            r"Argument 'B' must have entries in \[0, 5\) for GF\(5\), not 7 at index \(0,\)",
        ),
        (
            np.ones((4, 3), dtype=int),
            np.ones(3, dtype=int),
            coded.PolynomialCode(4, 1, 2),
            ValueError,
            r"Argument 'B' must be a 2-D array, not 1-D",
        ),
    ],
    ids=[
        "shape",
        "nan-B",
        "inf-A",
        "ndim",
        "no-rows",
        "no-columns",
        "ragged",
        "code-n",
        "not-a-code",
        "not-a-product",
        "gf-range",
        "vector-for-a-pair-code",
    ],
)
def test_bad_inputs_are_rejected_before_any_dispatch(rt, A, B, code, error, message):
    with pytest.raises(error, match=message):
        rt.matmul(A, B, code=code)
    assert rt.pool.submitted == 0


def test_operator_checks_its_operand_before_dispatch(rt):
    op = rt.place(np.ones((8, 3)), code=MDSCode(4, 2))
    for x, error, message in [
        (np.ones(4), ValueError, r"'x' must have 3 rows to multiply A of shape \(8, 3\), not 4"),
        (np.array([1.0, np.nan, 0.0]), ValueError, r"'x' must be finite, not nan at index \(1,\)"),
        (np.ones((3, 2, 2)), ValueError, r"'x' must be a 1-D or 2-D array, not 3-D"),
        (np.ones((3, 0)), ValueError, r"'x' must not be empty, not of shape \(3, 0\)"),
        ("abc", TypeError, r"'x' must be an array of numbers, not 'abc' \(str\)"),
        ([[1.0], [2.0, 3.0], [4.0]], ValueError, "'x' must be a rectangular array"),
    ]:
        with pytest.raises(error, match=message):
            op @ x
    with pytest.raises(ValueError, match=r"'x' must be finite"):
        op.run(np.full(3, np.inf))  # run(x) is op @ x, checked alike
    with pytest.raises(TypeError, match="CodedOperator.run takes one operand x"):
        op.run(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match=r"'xs\[1\]' must have 3 rows"):
        op.map([np.ones(3), np.ones(2)])
    assert rt.pool.submitted == 0


def test_codes_that_cannot_be_placed(rt):
    with pytest.raises(TypeError, match=r"encodes \(A, B\): use Runtime.matmul"):
        rt.place(np.ones((4, 4)), code=coded.PolynomialCode(4, 2, 2))
    with pytest.raises(ValueError, match="Argument 'k' must be at most n=4, not 6."):
        MDSCode(4, 6)  # n below the threshold is caught when the code is built


def test_a_pool_of_your_own_is_not_ray(rt):
    assert rt.ray is None


def test_repeated_products_reuse_the_resident_shards(rt):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 5))
    op = rt.place(A)
    assert op.code == default_code(4) and op.shape == (30, 5)
    for _ in range(3):
        x = rng.standard_normal((5, 2))
        np.testing.assert_allclose(op @ x, A @ x)
    assert len(op.history) == 3 and [m.round for m in op.history] == [0, 1, 2]
    assert op.history[0].encode_s > 0 and op.history[1].encode_s == 0
    op.close()


def test_the_history_keeps_the_last_rounds_only():
    A, x = np.arange(12.0).reshape(4, 3), np.ones(3)
    with Runtime(4, pool=InProcessPool(4), history_size=3) as rt:
        op = rt.place(A, code=MDSCode(4, 2))
        for _ in range(5):
            np.testing.assert_allclose(op @ x, A @ x)
        assert rt.rounds_run == 5
        assert [m.round for m in rt.history] == [m.round for m in op.history] == [2, 3, 4]
    with pytest.raises(ValueError, match="Argument 'history_size' must be at least 1, not 0"):
        Runtime(4, pool=InProcessPool(4), history_size=0)


def test_gf_operator_is_exact(rt):
    p = 65537
    rng = np.random.default_rng(1)
    A, x = rng.integers(0, p, (9, 6)), rng.integers(0, p, (6, 2))
    op = rt.place(A, code=MDSCode(4, 3, field=p))
    np.testing.assert_array_equal(op @ x, coded.gf_matmul(A, x, p))


def test_each_placement_keeps_its_own_layout(rt):
    code = MDSCode(4, 2)
    A1, A2 = np.ones((6, 2)), np.arange(20.0).reshape(10, 2)
    op1, op2 = rt.place(A1, code=code), rt.place(A2, code=code)
    np.testing.assert_allclose(op1 @ np.ones(2), A1 @ np.ones(2))
    np.testing.assert_allclose(op2 @ np.ones(2), A2 @ np.ones(2))


def _scaled_row_sums(index, operands, args, cancelled, backend):
    """A custom kernel: ``c · A_i 1``, linear in the shard, so an MDS code decodes it."""
    (shard,), (c,) = operands, args
    return None if cancelled() else c * shard.sum(axis=1)


def test_a_custom_kernel_runs_through_the_public_api_without_its_straggler():
    code, A = MDSCode(4, 3), np.arange(24.0).reshape(6, 4)
    shards = [(s,) for s in code.encode(A)]
    with Runtime(4, pool=InProcessPool(4, delays=FixedDelay(3.0, workers=[1]))) as rt:
        with rt.place_job(shards, _scaled_row_sums, code) as job:
            for c in (1.0, 2.0):
                np.testing.assert_allclose(job.run(c), c * A.sum(axis=1))
                assert job.metrics.cancelled == (1,) and job.metrics.total_s < 2.0
            assert [m.round for m in job.history] == [m.round for m in rt.history] == [0, 1]
            assert isinstance(job, Job) and not isinstance(job, CodedOperator)


def test_a_closed_job_or_runtime_refuses_to_run(rt):
    code, A = MDSCode(4, 2), np.eye(4)
    job = rt.place_job([(s,) for s in code.encode(A)], Product(), code)
    np.testing.assert_allclose(job.run(np.ones(4)), np.ones(4))
    job.close()
    job.close()  # again: nothing
    with pytest.raises(ClosedError, match="job 0 cannot run: this job is closed"):
        job.run(np.ones(4))
    op = rt.place(A, code=code)
    rt.close()
    with pytest.raises(ClosedError, match="job 1 cannot run: its runtime is closed"):
        op @ np.ones(4)
    with pytest.raises(ClosedError, match="the runtime is closed"):
        rt.place(A, code=code)
    assert isinstance(ClosedError("x"), RuntimeError)


def test_place_job_checks_its_arguments(rt):
    shards = [(np.eye(2),)] * 4
    with pytest.raises(TypeError, match=r"Argument 'code' must be a coded.Code, .* \(str\)\."):
        rt.place_job(shards, Product(), "MDS")
    with pytest.raises(TypeError, match=r"Argument 'shards' must be a list of n=4 tuples"):
        rt.place_job(np.ones((4, 2)), Product(), MDSCode(4, 2))
    with pytest.raises(TypeError, match=r"Argument 'shards\[1\]' must be a tuple of worker 1's"):
        rt.place_job(
            [(np.eye(2),), np.eye(2), (np.eye(2),), (np.eye(2),)], Product(), MDSCode(4, 2)
        )
    with pytest.raises(ValueError, match="Argument 'code' must have n=4 workers"):
        rt.place_job(shards, Product(), MDSCode(3, 2))
    with pytest.raises(TypeError, match=r"'kernel' must be callable, not None \(NoneType\)\."):
        rt.place_job(shards, None, MDSCode(4, 2))
    with pytest.raises(ValueError, match="Argument 'shards' must hold n=4 shards, not 3."):
        rt.place_job(shards[:3], Product(), MDSCode(4, 2))
    assert rt.pool.submitted == 0


def test_runtime_arguments():
    with pytest.raises(ValueError, match="Argument 'pool' must have n=3 workers, not 2."):
        Runtime(3, pool=InProcessPool(2))
    with pytest.raises(ValueError, match="Argument 'deadline' must be greater than 0, not 0."):
        Runtime(2, pool=InProcessPool(2), deadline=0)
    with pytest.raises(ValueError, match="Argument 'n' must equal the code's n=4, not 5."):
        coded.matmul(np.ones((4, 4)), np.ones(4), code=MDSCode(4, 2), n=5)
    with pytest.raises(TypeError, match=r"Argument 'pool' must be a coded.scheduler.pool.Pool"):
        Runtime(2, pool="ray")
    # options of the Ray workers are refused with a pool of one's own, not silently ignored
    with pytest.raises(ValueError, match=r"Argument 'delays' applies to the Ray workers"):
        Runtime(2, pool=InProcessPool(2), delays=FixedDelay(1.0))
    with pytest.raises(ValueError, match=r"Arguments 'num_cpus_per_worker', 'seed' apply"):
        Runtime(2, pool=InProcessPool(2), num_cpus_per_worker=1, seed=3)


def test_job_map_takes_one_tuple_of_arguments_per_round(rt):
    code = MDSCode(4, 2)
    job = rt.place_job([(s,) for s in code.encode(np.ones((4, 2)))], Product(), code)
    with pytest.raises(TypeError, match=r"'argsets\[0\]' must be a tuple of one round's arguments"):
        job.map([np.ones(2)])  # not [(x,)]: the array's rows would become the arguments
    assert rt.pool.submitted == 0
    assert np.allclose(job.map([(np.ones(2),)])[0], 2.0)


@pytest.mark.parametrize(
    "code", [MDSCode(4, 3), MDSCode(4, 3, field=7), Replication(4)], ids=["real", "GF(7)", "rep"]
)
def test_fewer_rows_than_blocks_are_padded_not_refused(rt, code):
    A, x = np.array([[1, 2, 3], [4, 5, 6]]), np.array([1, 0, 0])  # A @ x in [0, 7)
    assert np.allclose(rt.place(A, code=code) @ x, A @ x)


def test_default_code_and_operand_count():
    assert [default_code(n).k for n in (1, 2, 4, 8, 10)] == [1, 1, 3, 6, 7]
    counts = {
        MDSCode(4, 2): 1,
        Replication(4, 2): 1,
        coded.PolynomialCode(4, 2, 2): 2,
        coded.MatDotCode(4, 2): 2,
        coded.EntangledPolynomialCode(4, 1, 1, 2): 2,
    }
    assert {code: operand_count(code) for code in counts} == counts
    for code in (coded.GradientCode(4, 1), coded.LagrangeCode(4, 2, degree=1)):
        with pytest.raises(TypeError, match="must be a matrix-product code"):
            operand_count(code)


@settings(max_examples=30, deadline=None)
@given(n=st.sampled_from([2, 4, 6, 8]), r=st.sampled_from([1, 2]), data=st.data())
def test_replication_decodes_from_any_covering_set(n, r, data):
    code = Replication(n, r)
    A = np.arange(5.0 * n + 3).reshape(-1, 1)
    shares = code.encode(A)
    subset = data.draw(st.sets(st.integers(0, n - 1), min_size=1))
    covered = {i % code.blocks for i in subset} == set(range(code.blocks))
    assert code.can_decode(subset) == covered
    if covered:
        np.testing.assert_array_equal(code.decode({i: shares[i] for i in subset}), A)
    else:
        with pytest.raises(coded.NotDecodableError):
            code.decode({i: shares[i] for i in subset})


def test_replication_arguments_and_config():
    with pytest.raises(ValueError, match="Argument 'r' must divide n=6, not 4."):
        Replication(6, 4)
    code = Replication(6, 3)
    assert code.recovery_threshold == 2 and repr(code) == "Replication(n=6, r=3, field='real')"
    assert coded.code_from_config(code.get_config()) == code


def test_import_coded_does_not_import_ray():
    script = "import sys, coded; coded.Runtime; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # even the lazy Runtime imports Ray only when started


def test_lazy_attributes():
    assert coded.matmul is coded.scheduler.api.matmul and coded.Runtime is Runtime
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        coded.nope  # noqa: B018


def test_a_code_keeps_its_accuracy_on_the_runtime():
    """The runtime copies the code for each job: the caller's ``accuracy`` comes along."""
    code = MDSCode(4, 3)
    code.accuracy = 1e-12  # float32 responses cannot promise that
    A, x = np.ones((6, 3), dtype=np.float32), np.ones(3, dtype=np.float32)
    with Runtime(4, pool=InProcessPool(4)) as runtime:
        np.testing.assert_allclose(runtime.place(A, MDSCode(4, 3)) @ x, A @ x, rtol=1e-5)
        with pytest.raises(coded.IllConditionedError, match="accuracy 1e-12"):
            runtime.place(A, code) @ x
