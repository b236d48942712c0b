"""The codes benchmark runs end to end in its quick mode and writes its JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_codes_benchmark_quick(tmp_path):
    out = tmp_path / "codes.json"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "codes.py"), "--quick", "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    report = json.loads(out.read_text())
    assert {"speed", "conditioning", "gf_matmul", "machine"} <= set(report)
    assert {row["code"] for row in report["conditioning"]} >= {"MDSCode", "PolynomialCode"}
    assert all(row["speedup_vs_galois"] > 0 for row in report["gf_matmul"])
