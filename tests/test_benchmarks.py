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
    report = main([*argv, "--scenarios", "fixed-2x5", "persistent-1x5"])
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert set(report["scenarios"]) == {"fixed-2x5", "persistent-1x5"}
    for result in report["scenarios"].values():
        assert {"coded", "uncoded", "replication"} == set(result["strategies"])
        assert result["coded_over_oracle"] >= 1.0 and result["overhead_ms"] > 0  # no free lunch
    assert "local numpy" in capsys.readouterr().out
