"""What every code declares (work share, storage), the decodable-prefix helper, and the one
config protocol shared by codes, losses, optimisers and delay models."""

from __future__ import annotations

import pickle

import pytest

import coded
from coded import (
    BerrutCode,
    EntangledPolynomialCode,
    GradientCode,
    LagrangeCode,
    MatDotCode,
    MDSCode,
    PolynomialCode,
    Replication,
)
from coded.config import registered, registry
from coded.ignore import IgnoreStragglers
from coded.losses import SoftmaxLoss, loss_from_config
from coded.optim import SGD, optimizer_from_config
from coded.workers.delays import Compose, FixedDelay, Slowdown, delay_from_config


@pytest.mark.parametrize(
    "code, work, storage",
    [
        (MDSCode(10, 4), 1 / 4, (1 / 4,)),
        (MDSCode(10, 4, field=65537), 1 / 4, (1 / 4,)),
        (Replication(8), 1 / 8, (1 / 8,)),
        (Replication(8, 2), 2 / 8, (2 / 8,)),
        (PolynomialCode(12, 2, 3), 1 / 6, (1 / 2, 1 / 3)),
        (MatDotCode(7, 4), 1 / 4, (1 / 4, 1 / 4)),
        (EntangledPolynomialCode(20, 2, 3, 2), 1 / 12, (1 / 4, 1 / 6)),
        (EntangledPolynomialCode(9, 2, 2, 2, field=65537), 1 / 8, (1 / 4, 1 / 4)),
        (GradientCode(8, 3), 4 / 8, (4 / 8,)),
        (GradientCode(8, 1, "fractional"), 2 / 8, (2 / 8,)),
        (LagrangeCode(10, 3, 2), 1 / 3, (1 / 3,)),
        (LagrangeCode(12, 3, 2, privacy=1, field=65537), 1 / 3, (1 / 3,)),
        (IgnoreStragglers(5, 3), 1 / 5, (1 / 5,)),
        (BerrutCode(8, 4), 1 / 4, (1 / 4,)),
    ],
    ids=repr,
)
def test_work_share_and_storage(code, work, storage):
    assert code.work_share == pytest.approx(work)
    assert code.storage == pytest.approx(storage)
    operands = code.operands or 1
    assert len(code.storage) == operands


def test_product_code_shares_are_what_the_workers_hold_and_compute():
    import numpy as np

    code = EntangledPolynomialCode(20, 2, 3, 2)
    A, B = np.ones((8, 12)), np.ones((12, 9))
    share_a, share_b = code.encode(A, B)[0]
    assert share_a.size / A.size == code.storage[0] and share_b.size / B.size == code.storage[1]
    flops = share_a.shape[0] * share_a.shape[1] * share_b.shape[1]
    assert flops / (A.shape[0] * A.shape[1] * B.shape[1]) == pytest.approx(code.work_share)


def test_first_decodable():
    assert MDSCode(5, 3).first_decodable([4, 0, 2, 1, 3]) == 3
    assert MDSCode(5, 3).first_decodable([4, 4, 0, 2]) == 4  # a repeat adds nothing
    assert MDSCode(5, 3).first_decodable([4, 0]) is None
    assert Replication(4, 2).first_decodable([0, 2, 3, 1]) == 3
    assert GradientCode(6, 2, "fractional").first_decodable([0, 1, 3]) == 3
    with pytest.raises(ValueError, match="unknown worker index 7"):
        MDSCode(5, 3).first_decodable([0, 7])


# -- the config protocol ------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj",
    [
        MDSCode(8, 6),
        BerrutCode(8, 4),
        IgnoreStragglers(3, 2, (2, 2, 1)),
        SoftmaxLoss(classes=4),
        SGD(0.1, batch_size=8),
        Slowdown(2.0, workers=(0, 3)),
        Compose(Slowdown(2.0), FixedDelay(0.1, [1])),
    ],
    ids=lambda o: type(o).__name__,
)
def test_one_protocol(obj):
    config = obj.get_config()
    assert all(not isinstance(v, tuple) for v in config.values())  # YAML-ready
    family = {"Code": "code", "Loss": "loss", "Optimizer": "optimizer"}
    cls = registered(config, next((f for b, f in family.items() if b in _bases(obj)), "delays"))
    assert cls is type(obj)
    rebuilt = cls.from_config(config)
    assert rebuilt == obj and hash(rebuilt) == hash(obj) and repr(rebuilt) == repr(obj)
    assert pickle.loads(pickle.dumps(obj)) == obj
    with pytest.raises(ValueError, match=f"unknown parameter 'bogus' for {type(obj).__name__}"):
        cls.from_config({**config, "bogus": 1})


def _bases(obj):
    return {c.__name__ for c in type(obj).__mro__}


def test_every_family_is_one_registry_lookup():
    assert registry("code")["Replication"] is Replication
    assert set(registry("loss")) >= {"least_squares", "logistic", "softmax", "custom"}
    assert coded.code_from_config({"type": "MDSCode", "n": 8, "k": 6}) == MDSCode(8, 6)
    assert loss_from_config({"type": "softmax", "classes": 3}) == SoftmaxLoss(3)
    assert optimizer_from_config({"type": "sgd", "lr": 0.1, "batch_size": 2}) == SGD(0.1, 2)
    assert delay_from_config({"type": "Slowdown", "factor": 2}) == Slowdown(2.0)
    with pytest.raises(ValueError, match=r"Argument 'code' must be one of \[.*\], not 'Nope'"):
        coded.code_from_config({"type": "Nope"})
    with pytest.raises(ValueError, match=r"missing parameter 'k' for MDSCode"):
        coded.code_from_config({"type": "MDSCode", "n": 8})
    with pytest.raises(ValueError, match=r"Argument 'family' must be one of"):
        registry("nope")


def test_equal_objects_hash_alike_and_types_differ():
    assert MDSCode(8, 6) != MDSCode(8, 5) and MDSCode(8, 6) != Replication(8)
    assert {Slowdown(2), Slowdown(2.0)} == {Slowdown(2.0)}
    assert MDSCode(8, 6).get_config() == {
        "type": "MDSCode",
        "n": 8,
        "k": 6,
        "systematic": False,
        "field": "real",
    }
