"""Bad inputs to the Python API and the codes, in one table: each is refused within a second,
before any round is dispatched and before Ray starts, with a message that names the argument
and the value given. (The YAML and CLI half of the table is in the job and CLI tests.)"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest
import ray

import coded
import coded.scheduler.cluster
from coded import (
    GD,
    ChunkedMDSCode,
    EntangledPolynomialCode,
    GradientCode,
    LagrangeCode,
    MatDotCode,
    MDSCode,
    Momentum,
    PolynomialCode,
    PrimeField,
    Replication,
    gf_matmul,
)
from coded.ignore import IgnoreStragglers
from coded.scheduler.pool import InProcessPool
from coded.scheduler.runtime import Runtime
from coded.workers.delays import FixedDelay, PersistentSlow, Slowdown
from coded.workers.kernels import Product

assert PrimeField(7).galois_field  # galois is imported here, not inside a timed call

A, B = np.ones((8, 3)), np.ones((3, 2))
X = np.random.default_rng(0).standard_normal((40, 3))
Y = X @ np.ones(3)
RAGGED = [[1.0, 2.0], [3.0]]


def _nan(shape, index, value=np.nan):
    array = np.ones(shape)
    array[index] = value
    return array


@dataclass(frozen=True)
class Bad:
    """A call that must raise ``error`` with a message matching ``match``.

    ``call`` gets a :class:`Runtime` of 4 in-process workers (no Ray) to place jobs on.
    """

    id: str
    call: object
    error: type
    match: str


def _op(rt, code=None):
    return rt.place(np.ones((8, 3), dtype=int if code else float), code or MDSCode(4, 2))


def _job(rt):
    code = MDSCode(4, 2)
    return rt.place_job([(s,) for s in code.encode(np.ones((4, 2)))], Product(), code)


def _train(rt=None, **kwargs):
    arguments = dict(lr=0.1, iterations=2, progress=False, runtime=rt)
    arguments.update(kwargs)
    data = {name: arguments.pop(name) for name in ("X", "y") if name in arguments}
    return coded.train(data.get("X", X), data.get("y", Y), **arguments)


def _decode(bad_worker, bad_value):
    code = MDSCode(4, 2)
    shares = code.encode(np.ones((4, 3)))
    other = (bad_worker + 1) % 4  # one good response: the bad one is needed, not erased
    responses = {other: shares[other] @ np.ones(3), bad_worker: bad_value}
    return code.decode(responses)


MATMUL = [
    Bad(
        "byzantine-too-many",
        lambda rt: coded.matmul(A, B, code=MDSCode(8, 6), byzantine=2),
        ValueError,
        r"Argument 'byzantine' must leave MDSCode\(n=8, k=6.* 6 \+ 2·2 = 10 > n=8\.",
    ),
    Bad(
        "byzantine-negative",
        lambda rt: coded.matmul(A, B, byzantine=-1),
        ValueError,
        r"Argument 'byzantine' must be at least 0, not -1",
    ),
    Bad(
        "code-name",
        lambda rt: coded.matmul(A, B, code="mds"),
        TypeError,
        r"Argument 'code' must be a coded\.Code, e\.g\. .*, not 'mds' \(str\)\.",
    ),
    Bad(
        "code-not-a-product",
        lambda rt: coded.matmul(A, B, code=LagrangeCode(8, 2, 1)),
        TypeError,
        r"Argument 'code' must be a matrix-product code .*, not LagrangeCode\(n=8",
    ),
    Bad(
        "deadline-str",
        lambda rt: coded.matmul(A, B, deadline="10"),
        TypeError,
        r"Argument 'deadline' must be a positive number of seconds, not '10' \(str\)\.",
    ),
    Bad(
        "deadline-negative",
        lambda rt: coded.matmul(A, B, deadline=-1),
        ValueError,
        r"Argument 'deadline' must be greater than 0, not -1\.",
    ),
    Bad(
        "delays-worker-99",
        lambda rt: coded.matmul(A, B, n=8, delays=FixedDelay(1.0, workers=[99])),
        ValueError,
        r"Argument 'delays' must fit the n=8 workers: .*'workers' of FixedDelay .*, not 99\.",
    ),
    Bad(
        "delays-dict",
        lambda rt: coded.matmul(A, B, delays={"type": "FixedDelay", "seconds": 1.0}),
        TypeError,
        r"Argument 'delays' must be .*, not \{'seconds': 1\.0, 'type': 'FixedDelay'\} \(dict\)\.",
    ),
    Bad(
        "seed-str",
        lambda rt: coded.matmul(A, B, seed="x"),
        TypeError,
        r"Argument 'seed' must be an integer, not 'x' \(str\)\.",
    ),
    Bad(
        "seed-negative",
        lambda rt: coded.matmul(A, B, seed=-1),
        ValueError,
        r"Argument 'seed' must be at least 0, not -1\.",
    ),
    Bad(
        "cpus-negative",
        lambda rt: coded.matmul(A, B, num_cpus_per_worker=-1),
        ValueError,
        r"Argument 'num_cpus_per_worker' must be at least 0, not -1\.",
    ),
    Bad(
        "gpus-negative",
        lambda rt: coded.matmul(A, B, num_gpus_per_worker=-0.5),
        ValueError,
        r"Argument 'num_gpus_per_worker' must be at least 0, not -0\.5\.",
    ),
    Bad(
        "gpus-str",
        lambda rt: coded.matmul(A, B, num_gpus_per_worker="1"),
        TypeError,
        r"Argument 'num_gpus_per_worker' must be a finite number, not '1' \(str\)\.",
    ),
    Bad(
        "gpus-nan",
        lambda rt: coded.matmul(A, B, num_gpus_per_worker=float("nan")),
        ValueError,
        r"Argument 'num_gpus_per_worker' must be a finite number, not nan\.",
    ),
    Bad(
        "address-int",
        lambda rt: coded.matmul(A, B, address=6379),
        TypeError,
        r"Argument 'address' must be a Ray address .*, not 6379 \(int\)\.",
    ),
    Bad(
        "n-str",
        lambda rt: coded.matmul(A, B, n="8"),
        TypeError,
        r"Argument 'n' must be an integer, not '8' \(str\)\.",
    ),
    Bad(
        "n-not-the-code's",
        lambda rt: coded.matmul(A, B, code=MDSCode(4, 2), n=5),
        ValueError,
        r"Argument 'n' must equal the code's n=4, not 5\.",
    ),
    Bad(
        "return-metrics",
        lambda rt: coded.matmul(A, B, return_metrics="yes"),
        TypeError,
        r"Argument 'return_metrics' must be True or False, not 'yes' \(str\)\.",
    ),
    Bad(
        "A-no-rows",
        lambda rt: coded.matmul(np.ones((0, 3)), B),
        ValueError,
        r"Argument 'A' must not be empty, not of shape \(0, 3\)\.",
    ),
    Bad(
        "A-no-columns",
        lambda rt: coded.matmul(np.ones((8, 0)), np.ones((0, 2))),
        ValueError,
        r"Argument 'A' must not be empty, not of shape \(8, 0\)\.",
    ),
    Bad(
        "A-ragged",
        lambda rt: coded.matmul(RAGGED, np.ones(2)),
        ValueError,
        r"Argument 'A' must be a rectangular array of numbers, not \[\[1\.0, 2\.0\], \[3\.0\]\] "
        r"\(list\), whose rows differ in length\.",
    ),
    Bad(
        "A-objects",
        lambda rt: coded.matmul(np.array([[1.0, None]], dtype=object), np.ones(2)),
        TypeError,
        r"Argument 'A' must be an array of numbers, not an array of shape \(1, 2\) and dtype "
        r"object\.",
    ),
    Bad(
        "A-string",
        lambda rt: coded.matmul("abc", B),
        TypeError,
        r"Argument 'A' must be an array of numbers, not 'abc' \(str\)\.",
    ),
    Bad(
        "A-3-D",
        lambda rt: coded.matmul(np.ones((2, 2, 3)), B),
        ValueError,
        r"Argument 'A' must be a 2-D array, not 3-D \(shape \(2, 2, 3\)\)\.",
    ),
    Bad(
        "A-nan",
        lambda rt: coded.matmul(_nan((8, 3), (2, 1)), B),
        ValueError,
        r"Argument 'A' must be finite, not nan at index \(2, 1\)\.",
    ),
    Bad(
        "B-inf",
        lambda rt: coded.matmul(A, _nan((3, 2), (0, 1), np.inf)),
        ValueError,
        r"Argument 'B' must be finite, not inf at index \(0, 1\)\.",
    ),
    Bad(
        "B-rows",
        lambda rt: coded.matmul(A, np.ones((4, 2))),
        ValueError,
        r"Argument 'B' must have 3 rows to multiply A of shape \(8, 3\), not 4 "
        r"\(shape \(4, 2\)\)\.",
    ),
    Bad(
        "B-vector-for-a-pair-code",
        lambda rt: coded.matmul(A, np.ones(3), code=PolynomialCode(8, 2, 2)),
        ValueError,
        r"Argument 'B' must be a 2-D array, not 1-D \(shape \(3,\)\)\.",
    ),
    Bad(
        "gf-float-A",
        lambda rt: coded.matmul(A, B, code=MDSCode(8, 6, field=65537)),
        TypeError,
        r"Argument 'A' must be an integer array over GF\(65537\), not an array of dtype float64\.",
    ),
    Bad(
        "gf-B-out-of-range",
        lambda rt: coded.matmul(
            np.ones((8, 3), int), np.full((3, 2), 9), code=MDSCode(4, 2, field=7)
        ),
        ValueError,
        r"Argument 'B' must have entries in \[0, 7\) for GF\(7\), not 9 at index \(0, 0\)\.",
    ),
]

RUNTIME = [
    Bad("n-zero", lambda rt: Runtime(0), ValueError, r"Argument 'n' must be at least 1, not 0\."),
    Bad(
        "connect-timeout-zero",
        lambda rt: Runtime(4, connect_timeout=0),
        ValueError,
        r"Argument 'connect_timeout' must be greater than 0, not 0\.",
    ),
    Bad(
        "history-size",
        lambda rt: Runtime(4, history_size=0),
        ValueError,
        r"Argument 'history_size' must be at least 1, not 0\.",
    ),
    Bad(
        "master-threads",
        lambda rt: Runtime(4, master_threads=0),
        ValueError,
        r"Argument 'master_threads' must be at least 1, not 0\.",
    ),
    Bad(
        "emulate",
        lambda rt: Runtime(4, emulate=1e-9),
        TypeError,
        r"Argument 'emulate' must be an Emulation or None, not 1e-09 \(float\)\.",
    ),
    Bad(
        "pool",
        lambda rt: Runtime(4, pool="ray"),
        TypeError,
        r"Argument 'pool' must be a coded\.scheduler\.pool\.Pool or None, not 'ray' \(str\)\.",
    ),
    Bad(
        "delays-too-many-slow",
        lambda rt: Runtime(8, delays=PersistentSlow(9, 2.0)),
        ValueError,
        r"Argument 'delays' must fit the n=8 workers: .*PersistentSlow must be at most n=8, not 9",
    ),
    Bad(
        "backend",
        lambda rt: Runtime(8, backend="cuda"),
        ValueError,
        r"Argument 'backend' must be one of \['numpy', 'cupy', 'torch'\], not 'cuda' \(str\)\.",
    ),
    Bad(
        "seed-float",
        lambda rt: Runtime(4, seed=1.5),
        TypeError,
        r"Argument 'seed' must be an integer, not 1\.5 \(float\)\.",
    ),
    Bad(
        "place-no-rows",
        lambda rt: rt.place(np.ones((0, 3)), MDSCode(4, 2)),
        ValueError,
        r"Argument 'A' must not be empty, not of shape \(0, 3\)\.",
    ),
    Bad(
        "place-code-name",
        lambda rt: rt.place(A, "mds"),
        TypeError,
        r"Argument 'code' must be a coded\.Code, .*, not 'mds' \(str\)\.",
    ),
    Bad(
        "place-code-n",
        lambda rt: rt.place(A, MDSCode(8, 6)),
        ValueError,
        r"Argument 'code' must have n=4 workers like the runtime, not n=8 \(MDSCode\(n=8",
    ),
    Bad(
        "place-pair-code",
        lambda rt: rt.place(A, PolynomialCode(4, 2, 2)),
        TypeError,
        r"Argument 'code' must encode A alone to be placed; PolynomialCode\(n=4, .* encodes "
        r"\(A, B\)",
    ),
    Bad(
        "place-job-array",
        lambda rt: rt.place_job(np.ones((4, 2)), Product(), MDSCode(4, 2)),
        TypeError,
        r"Argument 'shards' must be a list of n=4 tuples of operands, not an array of shape "
        r"\(4, 2\)",
    ),
    Bad(
        "place-job-kernel",
        lambda rt: rt.place_job([(np.eye(2),)] * 4, None, MDSCode(4, 2)),
        TypeError,
        r"Argument 'kernel' must be callable, not None \(NoneType\)\.",
    ),
    Bad(
        "op-x-rows",
        lambda rt: _op(rt) @ np.ones(4),
        ValueError,
        r"Argument 'x' must have 3 rows to multiply A of shape \(8, 3\), not 4 \(shape \(4,\)\)\.",
    ),
    Bad(
        "op-x-string",
        lambda rt: _op(rt) @ "abc",
        TypeError,
        r"Argument 'x' must be an array of numbers, not 'abc' \(str\)\.",
    ),
    Bad(
        "op-x-nan",
        lambda rt: _op(rt) @ np.array([1.0, np.nan, 0.0]),
        ValueError,
        r"Argument 'x' must be finite, not nan at index \(1,\)\.",
    ),
    Bad(
        "op-x-empty",
        lambda rt: _op(rt) @ np.ones((3, 0)),
        ValueError,
        r"Argument 'x' must not be empty, not of shape \(3, 0\)\.",
    ),
    Bad(
        "op-x-complex",
        lambda rt: _op(rt) @ np.ones(3, complex),
        TypeError,
        r"Argument 'x' must be real-valued, not complex128\.",
    ),
    Bad(
        "op-gf-x-float",
        lambda rt: _op(rt, MDSCode(4, 2, field=7)) @ np.full(3, 0.5),
        TypeError,
        r"Argument 'x' must be an integer array over GF\(7\), not an array of dtype float64\.",
    ),
    Bad(
        "op-map-window",
        lambda rt: _op(rt).map([np.ones(3)], window=0),
        ValueError,
        r"Argument 'window' must be at least 1, not 0\.",
    ),
    Bad(
        "job-map-arrays",
        lambda rt: _job(rt).map([np.ones(2)]),
        TypeError,
        r"Argument 'argsets\[0\]' must be a tuple of one round's arguments, not an array of shape "
        r"\(2,\)",
    ),
    Bad(
        "job-map-int",
        lambda rt: _job(rt).map(5),
        TypeError,
        r"Argument 'argsets' must be an iterable of argument tuples, not 5 \(int\)\.",
    ),
]

TRAIN = [
    Bad(
        "byzantine-uncoded",
        lambda rt: _train(None, method="uncoded", n=4, byzantine=1),
        ValueError,
        r"Argument 'byzantine' must leave GradientCode\(n=4, s=0.* 4 \+ 2·1 = 6 > n=4\.",
    ),
    Bad(
        "byzantine-ignore",
        lambda rt: _train(None, method="ignore", n=4, byzantine=1),
        ValueError,
        r"Argument 'byzantine' needs an exact method .*, not 'ignore'\.",
    ),
    Bad(
        "optimizer-and-lr",
        lambda rt: _train(rt, optimizer=GD(lr=1.0), lr=0.1),
        ValueError,
        r"Arguments 'optimizer' and 'lr' conflict: GD\(lr=1\.0\) has its own step size, "
        r"so 'lr' \(0\.1\) would be ignored",
    ),
    Bad(
        "lr-str",
        lambda rt: _train(rt, lr="0.1"),
        TypeError,
        r"Argument 'lr' must be a finite number, not '0\.1' \(str\)\.",
    ),
    Bad(
        "lr-negative",
        lambda rt: _train(rt, lr=-1),
        ValueError,
        r"Argument 'lr' must be greater than 0, not -1\.",
    ),
    Bad(
        "loss",
        lambda rt: _train(rt, loss="hinge"),
        ValueError,
        r"Argument 'loss' must be one of \[.*\], not 'hinge'\.",
    ),
    Bad(
        "method",
        lambda rt: _train(rt, method="async"),
        ValueError,
        r"Argument 'method' must be one of \[.*\], not 'async'\.",
    ),
    Bad(
        "s", lambda rt: _train(rt, s=4), ValueError, r"Argument 's' must be less than n=4, not 4\."
    ),
    Bad(
        "X-ragged",
        lambda rt: _train(rt, X=RAGGED, y=[1.0, 2.0]),
        ValueError,
        r"Argument 'X' must be a rectangular array of numbers, not \[\[1\.0, 2\.0\], \[3\.0\]\]",
    ),
    Bad(
        "X-nan",
        lambda rt: _train(rt, X=_nan((40, 3), (7, 2))),
        ValueError,
        r"Argument 'X' must be finite, not nan at index \(7, 2\)\.",
    ),
    Bad(
        "y-rows",
        lambda rt: _train(rt, y=Y[:-1]),
        ValueError,
        r"Arguments 'X' and 'y' must have the same number of rows, not 40 and 39\.",
    ),
    Bad(
        "w0-shape",
        lambda rt: _train(rt, w0=np.zeros(5)),
        ValueError,
        r"Argument 'w0' must have shape \(3,\), not \(5,\)\.",
    ),
    Bad(
        "target-loss",
        lambda rt: _train(rt, target_loss="low"),
        TypeError,
        r"Argument 'target_loss' must be a finite number, not 'low' \(str\)\.",
    ),
    Bad(
        "newton-method",
        lambda rt: _train(rt, lr=None, optimizer=coded.NewtonCG(), method="coded"),
        ValueError,
        r"Argument 'method' must be one of \['mds'\] for NewtonCG, not 'coded'\.",
    ),
    Bad(
        "newton-cg-tol",
        lambda rt: _train(rt, lr=None, optimizer=coded.NewtonCG(cg_tol=-0.1)),
        ValueError,
        r"Argument 'cg_tol' must be greater than 0, not -0\.1\.",
    ),
    Bad(
        "newton-damping",
        lambda rt: _train(rt, lr=None, optimizer={"type": "newton_cg", "damping": -1}),
        ValueError,
        r"Argument 'damping' must be at least 0, not -1\.",
    ),
    Bad(
        "newton-max-cg",
        lambda rt: _train(rt, lr=None, optimizer=coded.NewtonCG(max_cg=0)),
        ValueError,
        r"Argument 'max_cg' must be at least 1, not 0\.",
    ),
    Bad(
        "sketch-size",
        lambda rt: _train(rt, lr=None, optimizer=coded.SketchedNewton(sketch_size=0)),
        ValueError,
        r"Argument 'sketch_size' must be at least 1, not 0\.",
    ),
    Bad(
        "target-gradient-norm",
        lambda rt: _train(rt, target_gradient_norm=-1),
        ValueError,
        r"Argument 'target_gradient_norm' must be at least 0, not -1\.",
    ),
    Bad(
        "progress",
        lambda rt: _train(rt, progress="yes"),
        TypeError,
        r"Argument 'progress' must be True or False, not 'yes' \(str\)\.",
    ),
    Bad(
        "callback",
        lambda rt: _train(rt, callback=5),
        TypeError,
        r"Argument 'callback' must be callable or None, not 5 \(int\)\.",
    ),
    Bad(
        "runtime",
        lambda rt: _train(runtime="ray"),
        TypeError,
        r"Argument 'runtime' must be a coded\.Runtime or None, not 'ray' \(str\)\.",
    ),
    Bad(
        "runtime-cpus",
        lambda rt: _train(num_cpus_per_worker=-1),
        ValueError,
        r"Argument 'num_cpus_per_worker' must be at least 0, not -1\.",
    ),
    Bad(
        "runtime-delays",
        lambda rt: _train(delays=Slowdown(2.0, workers=[99])),
        ValueError,
        r"Argument 'delays' must fit the n=8 workers: .*, not 99\.",
    ),
]

CODES = [
    Bad(
        "mds-k", lambda rt: MDSCode(8, 9), ValueError, r"Argument 'k' must be at most n=8, not 9\."
    ),
    Bad(
        "chunked-k",
        lambda rt: ChunkedMDSCode(4, 5, 2),
        ValueError,
        r"Argument 'k' must be at most n=4, not 5\.",
    ),
    Bad(
        "chunked-chunks",
        lambda rt: ChunkedMDSCode(4, 2, 0),
        ValueError,
        r"Argument 'chunks' must be at least 1, not 0\.",
    ),
    Bad(
        "chunked-above-p",
        lambda rt: ChunkedMDSCode(4, 2, 2, field=7),
        ValueError,
        r"Argument 'chunks' must keep n·chunks at most p=7 over GF\(7\), not 4·2 = 8\.",
    ),
    Bad(
        "chunked-byzantine",
        lambda rt: coded.matmul(A, B, code=ChunkedMDSCode(4, 2, 2), byzantine=1),
        ValueError,
        r"Argument 'byzantine' must be 0 with a partial-work code, .*, not 1\.",
    ),
    Bad(
        "chunked-kernel",
        lambda rt: rt.place_job(
            [(s,) for s in ChunkedMDSCode(4, 2, 2).encode(np.ones((4, 2)))],
            Product(),
            ChunkedMDSCode(4, 2, 2),
        ),
        ValueError,
        r"Argument 'kernel' must stream the 2 chunks per worker .*Product\(pieces=2\)",
    ),
    Bad(
        "mds-n-str",
        lambda rt: MDSCode("8", 6),
        TypeError,
        r"Argument 'n' must be an integer, not '8' \(str\)\.",
    ),
    Bad(
        "mds-systematic",
        lambda rt: MDSCode(8, 6, systematic="no"),
        TypeError,
        r"Argument 'systematic' must be True or False, not 'no' \(str\)\.",
    ),
    Bad(
        "mds-n-above-p",
        lambda rt: MDSCode(8, 6, field=5),
        ValueError,
        r"Argument 'n' must be at most p=5 over GF\(5\), not 8\.",
    ),
    Bad(
        "field-not-prime",
        lambda rt: MDSCode(8, 6, field=8),
        ValueError,
        r"Argument 'field' must be a prime number, not 8\.",
    ),
    Bad(
        "field-float",
        lambda rt: MDSCode(8, 6, field=1.5),
        TypeError,
        r"Argument 'field' must be 'real', a prime or a galois GF\(p\), not 1\.5 \(float\)\.",
    ),
    Bad(
        "field-name",
        lambda rt: PolynomialCode(8, 2, 2, field="complex"),
        ValueError,
        r"Argument 'field' must be 'real', a prime or a galois GF\(p\), not 'complex'\.",
    ),
    Bad(
        "field-too-large",
        lambda rt: MatDotCode(8, 2, field=2**31 + 11),
        ValueError,
        r"Argument 'field' must be a prime below 2\^31, not 2147483659\.",
    ),
    Bad(
        "polynomial-threshold",
        lambda rt: PolynomialCode(8, 3, 3),
        ValueError,
        r"Argument 'n' must be at least the recovery threshold 9, not 8\.",
    ),
    Bad(
        "polynomial-blocks",
        lambda rt: PolynomialCode(8, 0, 2),
        ValueError,
        r"Argument 'a_blocks' must be at least 1, not 0\.",
    ),
    Bad(
        "matdot-blocks-float",
        lambda rt: MatDotCode(8, 2.0),
        TypeError,
        r"Argument 'inner_blocks' must be an integer, not 2\.0 \(float\)\.",
    ),
    Bad(
        "matdot-threshold",
        lambda rt: MatDotCode(8, 5),
        ValueError,
        r"Argument 'n' must be at least the recovery threshold 9, not 8\.",
    ),
    Bad(
        "entangled-threshold",
        lambda rt: EntangledPolynomialCode(8, 2, 2, 2),
        ValueError,
        r"Argument 'n' must be at least the recovery threshold 9, not 8\.",
    ),
    Bad(
        "gradient-s",
        lambda rt: GradientCode(8, 8),
        ValueError,
        r"Argument 's' must be less than n=8, not 8\.",
    ),
    Bad(
        "gradient-fractional",
        lambda rt: GradientCode(8, 2, scheme="fractional"),
        ValueError,
        r"Argument 's' must have s \+ 1 dividing n=8 for the fractional scheme, not 2\.",
    ),
    Bad(
        "gradient-scheme",
        lambda rt: GradientCode(8, 1, scheme=3),
        ValueError,
        r"Argument 'scheme' must be one of \['cyclic', 'fractional'\], not 3 \(int\)\.",
    ),
    Bad(
        "lagrange-threshold",
        lambda rt: LagrangeCode(8, 5, 2),
        ValueError,
        r"Argument 'n' must be at least the recovery threshold .* = 9, not 8\.",
    ),
    Bad(
        "lagrange-privacy-real",
        lambda rt: LagrangeCode(8, 2, 1, privacy=1),
        ValueError,
        r"Argument 'privacy' must be 0 over the reals .*, not 1\.",
    ),
    Bad(
        "lagrange-degree",
        lambda rt: LagrangeCode(8, 2, 0),
        ValueError,
        r"Argument 'degree' must be at least 1, not 0\.",
    ),
    Bad("replication-r", lambda rt: Replication(8, 3), ValueError, r"'r' must divide n=8, not 3\."),
    Bad(
        "ignore-counts",
        lambda rt: IgnoreStragglers(4, 2, counts=[1, 2]),
        ValueError,
        r"Argument 'counts' must have one entry per worker, n=4, not 2\.",
    ),
    Bad(
        "encode-no-columns",
        lambda rt: MDSCode(8, 6).encode(np.ones((4, 0))),
        ValueError,
        r"Argument 'A' must not be empty, not of shape \(4, 0\)\.",
    ),
    Bad(
        "encode-gf-float",
        lambda rt: MDSCode(4, 2, field=7).encode(np.full((4, 2), 0.5)),
        TypeError,
        r"Argument 'A' must be an integer array over GF\(7\), not an array of dtype float64\.",
    ),
    Bad(
        "encode-gf-range",
        lambda rt: PolynomialCode(4, 2, 1, field=7).encode(
            np.full((4, 2), 7), np.ones((2, 2), int)
        ),
        ValueError,
        r"Argument 'A' must have entries in \[0, 7\) for GF\(7\), not 7 at index \(0, 0\)\.",
    ),
    Bad(
        "gf-matmul-float",
        lambda rt: gf_matmul(np.full((2, 2), 2.7), np.ones((2, 2), int), 7),
        TypeError,
        r"Argument 'a' must be an integer array over GF\(7\), not an array of dtype float64\.",
    ),
    Bad(
        "gf-matmul-range",
        lambda rt: gf_matmul(np.ones((1, 1), int), np.full((1, 1), 2**40 + 3), 65537),
        ValueError,
        r"Argument 'b' must have entries in \[0, 65537\) for GF\(65537\), not 1099511627779",
    ),
    Bad(
        "gf-matmul-p",
        lambda rt: gf_matmul(np.ones((1, 1), int), np.ones((1, 1), int), 1),
        ValueError,
        r"Argument 'p' must be at least 2, not 1\.",
    ),
    Bad(
        "decode-none",
        lambda rt: _decode(0, None),
        coded.BadResponseError,
        r"the response of worker 0 is bad: it must be a non-empty array of real numbers, "
        r"not None \(NoneType\)",
    ),
    Bad(
        "decode-string",
        lambda rt: _decode(2, "oops"),
        coded.BadResponseError,
        r"the response of worker 2 is bad: .*, not 'oops' \(str\)",
    ),
    Bad(
        "decode-shape",
        lambda rt: _decode(0, np.ones(5)),
        coded.BadResponseError,
        r"the response of worker 0 is bad: its shape \(5,\) must start with \(2,\)",
    ),
    Bad(
        "optimizer-lr-nan",
        lambda rt: GD(float("nan")),
        ValueError,
        r"Argument 'lr' must be a finite number, not nan\.",
    ),
    Bad(
        "optimizer-momentum",
        lambda rt: Momentum(0.1, momentum=1.0),
        ValueError,
        r"Argument 'momentum' must be less than 1, not 1\.",
    ),
]

BLOCKS = [np.ones((2, 2))] * 3
BERRUT = coded.BerrutCode(4, 2)


_LOCK = __import__("threading").Lock()

MAP = [
    Bad(
        "map-f-not-callable",
        lambda rt: coded.map(3, BLOCKS, code=LagrangeCode(8, 3, 2)),
        TypeError,
        r"Argument 'f' must be callable or a 'module:function' string, not 3 \(int\)",
    ),
    Bad(
        "map-f-unimportable",
        lambda rt: coded.map("nowhere:f", BLOCKS, code=LagrangeCode(8, 3, 2)),
        ValueError,
        r"Argument 'f' names 'nowhere:f', which cannot be imported: No module named 'nowhere'",
    ),
    Bad(
        "map-f-not-picklable",
        lambda rt: coded.map(lambda b: b if _LOCK else b, BLOCKS, code=LagrangeCode(8, 3, 2)),
        TypeError,
        r"Argument 'f' must pickle to reach the workers .* cannot pickle '_thread.lock'",
    ),
    Bad(
        "map-code-matrix",
        lambda rt: coded.map(np.square, BLOCKS, code=MDSCode(8, 6)),
        TypeError,
        r"Argument 'code' must be a code whose workers apply f to a coded share",
    ),
    Bad(
        "map-blocks-count",
        lambda rt: coded.map(np.square, BLOCKS[:2], code=LagrangeCode(8, 3, 2)),
        ValueError,
        r"Argument 'blocks' must hold k=3 arrays, not 2\.",
    ),
    Bad(
        "map-blocks-shape",
        lambda rt: coded.map(np.square, [np.ones(2), np.ones(3)], code=BERRUT),
        ValueError,
        r"Argument 'blocks\[1\]' must have the shape \(2,\) of blocks\[0\], not \(3,\)\.",
    ),
    Bad(
        "map-blocks-nan",
        lambda rt: coded.map(np.square, [np.ones(2), _nan(2, 1)], code=BERRUT),
        ValueError,
        r"Argument 'blocks\[1\]' must be finite, not nan at index \(1,\)",
    ),
    Bad(
        "map-args",
        lambda rt: coded.map(np.square, BLOCKS, code=LagrangeCode(8, 3, 2), args=np.ones(2)),
        TypeError,
        r"Argument 'args' must be a tuple of f's extra arguments, not an array of shape \(2,\)",
    ),
    Bad(
        "map-policy-exact",
        lambda rt: coded.map(
            np.square, BLOCKS, code=LagrangeCode(8, 3, 2), policy=coded.Approximate(wait=1)
        ),
        ValueError,
        r"Argument 'policy' applies to approximate codes",
    ),
    Bad(
        "map-policy-empty",
        lambda rt: coded.Approximate(),
        ValueError,
        r"Argument 'policy' must set one of 'responses', 'wait' and 'tolerance', not none",
    ),
    Bad(
        "map-policy-wait",
        lambda rt: coded.Approximate(wait=0),
        ValueError,
        r"Argument 'wait' must be greater than 0, not 0",
    ),
    Bad(
        "map-verify",
        lambda rt: coded.map(np.square, BLOCKS, code=LagrangeCode(8, 3, 2), verify=4),
        ValueError,
        r"Argument 'verify' must be at most n − threshold − 2·byzantine = 8 − 5 − 0 = 3, not 4",
    ),
    Bad(
        "map-byzantine-approximate",
        lambda rt: coded.map(np.tanh, [np.ones(2)] * 2, code=BERRUT, byzantine=1),
        ValueError,
        r"Argument 'byzantine' must be 0 with BerrutCode\(n=4, k=2\)",
    ),
    Bad(
        "map-berrut-k",
        lambda rt: coded.BerrutCode(4, 0),
        ValueError,
        r"Argument 'k' must be at least 1, not 0\.",
    ),
    Bad(
        "place-map-code-n",
        lambda rt: rt.place_map(np.square, BLOCKS, code=LagrangeCode(8, 3, 2)),
        ValueError,
        r"Argument 'code' must have n=4 workers like the runtime, not n=8",
    ),
]

SQUARE = np.eye(6) + 0.1
LINKS = np.ones((6, 6)) - np.eye(6)

ITERATIVE = [
    Bad(
        "power-A-not-square",
        lambda rt: coded.power_iteration(np.ones((3, 4))),
        ValueError,
        r"Argument 'A' must be a square matrix, not of shape \(3, 4\)\.",
    ),
    Bad(
        "power-A-nan",
        lambda rt: coded.power_iteration(_nan((6, 6), (2, 3))),
        ValueError,
        r"Argument 'A' must be finite, not nan at index \(2, 3\)\.",
    ),
    Bad(
        "power-x0-zero",
        lambda rt: coded.power_iteration(SQUARE, x0=np.zeros(6)),
        ValueError,
        r"Argument 'x0' must not be zero\.",
    ),
    Bad(
        "power-x0-size",
        lambda rt: coded.power_iteration(SQUARE, x0=np.ones(5)),
        ValueError,
        r"Argument 'x0' must have 6 entries, one per row, not 5\.",
    ),
    Bad(
        "power-tol",
        lambda rt: coded.power_iteration(SQUARE, tol=-1),
        ValueError,
        r"Argument 'tol' must be at least 0, not -1\.",
    ),
    Bad(
        "power-code-gf",
        lambda rt: coded.power_iteration(SQUARE, code=MDSCode(4, 2, field=7)),
        ValueError,
        r"Argument 'code' must compute over the reals for an iterative method, not GF\(7\)\.",
    ),
    Bad(
        "power-code-two-operands",
        lambda rt: coded.power_iteration(SQUARE, code=PolynomialCode(4, 2, 1)),
        TypeError,
        r"Argument 'code' must encode A alone, e\.g\. coded\.MDSCode\(n=8, k=6\), not Poly",
    ),
    Bad(
        "power-n-code",
        lambda rt: coded.power_iteration(SQUARE, code=MDSCode(4, 2), n=5),
        ValueError,
        r"Argument 'n' must equal the code's n=4, not 5\.",
    ),
    Bad(
        "power-code-runtime",
        lambda rt: coded.power_iteration(SQUARE, code=MDSCode(8, 6), runtime=rt),
        ValueError,
        r"Argument 'code' must have n=4 workers like the runtime, not n=8",
    ),
    Bad(
        "power-options-with-runtime",
        lambda rt: coded.power_iteration(SQUARE, runtime=rt, start_seed=0, deadline=3),
        TypeError,
        r"runtime options \['deadline'\] apply only when no 'runtime' is given",
    ),
    Bad(
        "power-callback",
        lambda rt: coded.power_iteration(SQUARE, runtime=rt, callback=3),
        TypeError,
        r"Argument 'callback' must be callable or None, not 3 \(int\)\.",
    ),
    Bad(
        "pagerank-negative-link",
        lambda rt: coded.pagerank(LINKS - 2 * np.eye(6)),
        ValueError,
        r"Argument 'adjacency' must hold non-negative link weights, not -2\.0 at index \(0, 0\)",
    ),
    Bad(
        "pagerank-damping",
        lambda rt: coded.pagerank(LINKS, damping=1.0),
        ValueError,
        r"Argument 'damping' must be less than 1, not 1\.",
    ),
    Bad(
        "pagerank-reference",
        lambda rt: coded.pagerank(LINKS, reference=np.ones(3), runtime=rt),
        ValueError,
        r"Argument 'reference' must have 6 entries, one per row, not 3\.",
    ),
]

CASES = MATMUL + RUNTIME + TRAIN + CODES + MAP + ITERATIVE


@pytest.fixture
def rt(monkeypatch):
    """4 in-process workers; starting Ray (connect, ray.init) fails the test loudly."""

    def started(*args, **kwargs):
        raise AssertionError("Ray was started for a bad input")

    monkeypatch.setattr(coded.scheduler.cluster, "connect", started)
    monkeypatch.setattr(ray, "init", started)
    with Runtime(4, pool=InProcessPool(4)) as runtime:
        yield runtime


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_bad_input_is_refused_at_once_before_ray_starts(rt, case):
    start = time.perf_counter()
    with pytest.raises(case.error, match=case.match):
        case.call(rt)
    assert time.perf_counter() - start < 1.0
    assert rt.rounds_run == 0  # nothing was dispatched


def test_the_connect_timeout_reaches_the_connection(monkeypatch):
    asked = {}

    def unreachable(address, **kwargs):
        asked.update(kwargs, address=address)
        raise ConnectionError(f"could not reach a Ray cluster at {address!r}")

    monkeypatch.setattr(coded.scheduler.cluster, "connect", unreachable)
    with pytest.raises(ConnectionError, match="127.0.0.1:1"):
        Runtime(2, address="127.0.0.1:1", connect_timeout=2.5)
    assert asked == {"address": "127.0.0.1:1", "timeout": 2.5}


def test_the_table_covers_the_api_and_every_code_family():
    assert len(CASES) >= 45
    assert len({case.id for case in CASES}) == len(CASES)
