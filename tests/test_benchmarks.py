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


@pytest.mark.ray
def test_straggler_benchmark_tiny_run(ray_cluster, tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from straggler_matmul import main
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    out = tmp_path / "straggler.json"
    argv = ["--rounds", "3", "--rows", "96", "--cols", "16", "--width", "2", "--json", str(out)]
    report = main([*argv, "--scenarios", "same-work", "fixed-2x5"])
    written = json.loads(out.read_text())
    assert written["scenarios"] == json.loads(json.dumps(report["scenarios"]))
    same, fixed = report["scenarios"]["same-work"], report["scenarios"]["fixed-2x5"]
    assert set(same["median_ms"]) == {"coded", "peer-uncoded"}
    assert set(fixed["median_ms"]) == {
        "coded",
        "rt-uncoded",
        "rt-replication",
        "peer-uncoded",
        "peer-replication",
        "peer-speculation",
    }
    assert fixed["ratios"]["coded / oracle"] >= 1.0 and fixed["overhead_ms"] > 0  # no free lunch
    assert set(fixed["targets"]) == {
        "coded / peer-uncoded",
        "coded / peer-replication",
        "coded / oracle",
        "master CPU ms",
    }
    output = capsys.readouterr().out
    assert "local numpy" in output and ("MISSED" in output or "met" in output)
