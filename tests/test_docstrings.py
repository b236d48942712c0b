"""Every ``>>>`` example in the three packages runs and prints what its docstring says."""

from __future__ import annotations

import doctest
import importlib

import pytest

from .test_public_api import MODULES

NEEDS_RAY = {"coded.scheduler.api"}  # its example starts workers: on the session's Ray
NEEDS = {"coded.nn": "torch"}  # an optional dependency its examples use


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, request):
    if name in NEEDS_RAY:
        request.getfixturevalue("ray_cluster")
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_examples_are_collected():
    assert {
        "coded.mds",
        "coded.workers.worker",
        "coded.scheduler.round",
        "coded.scheduler.lab.simulator",
    } <= set(MODULES)
