"""The Python examples run end to end on the session's local Ray, with small settings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example(name: str):
    sys.path.insert(0, str(EXAMPLES))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.mark.ray
def test_coded_inference_decodes_predictions_from_the_fast_workers(ray_cluster, capsys):
    pytest.importorskip("sklearn")
    assert _example("coded_inference").main(["--seconds-per-row", "1e-4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines[lines.index("") + 2 :]]
    table = {(int(r[0]), " ".join(r[1:-4])): (float(r[-4]), float(r[-3])) for r in rows}
    assert {s for s, _ in table} == {0, 1, 2, 4} and len(table) == 16
    exact = float(lines[0].split("accuracy ")[1].rstrip("%"))
    for s in (0, 1, 2, 4):
        assert table[s, "wait for all"] == table[s, "2-replication"] == (exact, 100.0)
        accuracy, agreement = table[s, "Berrut coded"]
        assert accuracy >= exact - 3 and agreement >= 95  # approximate, but close
    assert table[4, "drop stragglers"][0] < table[4, "Berrut coded"][0] - 10  # 4/16 lost
