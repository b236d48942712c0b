"""The figure of ``coded simulate``: panels only where there is data, units and log time
axes, legends beside the axes, coinciding curves kept visible, median and p99 speed-ups."""

from __future__ import annotations

import itertools

import pytest

from coded.scheduler.lab.reports import LOG_SPAN, plot_report, report_figure
from coded.scheduler.lab.scenarios import load_scenarios, run_scenarios

pytest.importorskip("matplotlib")

CONFIG = {
    "seed": 0,
    "rounds": 2000,
    "scenarios": {
        # heavy tails; PolynomialCode(2x4) and MDS(10, 8) wait for the same 8 of 10 workers
        "pareto": {
            "n": 10,
            "delays": {"type": "Pareto", "alpha": 1.5},
            "strategies": {
                "uncoded": {"type": "uncoded"},
                "mds": {"type": "MDSCode", "k": 8},
                "poly": {"type": "PolynomialCode", "a_blocks": 2, "b_blocks": 4},
            },
        },
        # replication's median is faster than uncoded, its p99 slower (a 5x slow pair)
        "bimodal": {
            "n": 10,
            "delays": {"type": "Bimodal", "probability": 0.1, "factor": 5.0},
            "strategies": {"uncoded": {"type": "uncoded"}, "rep": {"type": "replication", "r": 2}},
        },
        # every round takes 0.25 s: a narrow span, a plain axis; a baseline alone: no speed-up
        "steady": {
            "n": 4,
            "work": 0.75,
            "strategies": {"mds": {"type": "MDSCode", "k": 3}},
        },
        # all three workers down for good: no decodable round, no panel
        "down": {
            "n": 3,
            "delays": {"type": "FailStop", "workers": [0, 1, 2], "round": 0, "duration": None},
            "strategies": {"uncoded": {"type": "uncoded"}},
        },
    },
}


@pytest.fixture(scope="module")
def figure():
    _, scenarios = load_scenarios(CONFIG)
    return report_figure(run_scenarios(scenarios, progress=False))


def _panels(figure):
    return {ax.get_title().split(":")[0]: ax for ax in figure.axes}


def test_one_panel_per_scenario_with_data_and_one_of_speedups(figure):
    assert set(_panels(figure)) == {"pareto", "bimodal", "steady", "speed-up"}
    assert len(figure.axes) == 4  # no hidden or empty axes


def test_time_axes_have_units_and_are_logarithmic_for_wide_spans(figure):
    panels = _panels(figure)
    for name in ("pareto", "bimodal"):  # latencies spanning more than LOG_SPAN
        assert panels[name].get_xscale() == "log"
        assert panels[name].get_xlabel() == "round latency t (s, log scale)"
    assert panels["steady"].get_xscale() == "linear"
    assert panels["steady"].get_xlabel() == "round latency t (ms)"  # 250 ms
    (x,) = {tuple(line.get_xdata()) for line in panels["steady"].get_lines()}
    assert max(x) / min(x) < LOG_SPAN and x[0] == pytest.approx(250.0)


def test_every_curve_is_labelled_and_coinciding_curves_are_told_apart(figure):
    for ax in list(_panels(figure).values())[:3]:
        labels = [line.get_label() for line in ax.get_lines()]
        legend = [text.get_text() for text in ax.get_legend().get_texts()]
        assert legend == labels and len(set(labels)) == len(labels)
    uncoded, mds, poly = _panels(figure)["pareto"].get_lines()
    assert uncoded.get_label() == "uncoded (baseline)"
    assert list(mds.get_xdata()) == list(poly.get_xdata())  # identical curves...
    assert poly.get_label() == "poly (coincides with mds)"  # ...said so, and drawn dashed over
    assert mds.get_linestyle() == "-" and poly.get_linestyle() == "--"
    # a strategy has one colour in every panel
    uncoded = [ax.get_lines()[0] for ax in list(_panels(figure).values())[:2]]
    assert uncoded[0].get_color() == uncoded[1].get_color()


def test_speedups_show_median_and_p99_around_the_1x_line(figure):
    ax = _panels(figure)["speed-up"]
    assert ax.get_xscale() == "log" and "×" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "pareto (vs uncoded)",
        "mds (redundancy 1.25)",
        "poly (redundancy 1.25)",
        "bimodal (vs uncoded)",
        "rep (redundancy 2)",
    ]
    markers = {  # row -> speed-up, of the one-point lines with that marker
        marker: {
            line.get_ydata()[0]: line.get_xdata()[0]
            for line in ax.get_lines()
            if line.get_marker() == marker
        }
        for marker in ("o", "D")
    }
    assert set(markers["o"]) == set(markers["D"]) == {1, 2, 4}  # each strategy's row
    assert markers["o"][4] > 1 > markers["D"][4]  # rep: median faster, p99 slower
    assert any(list(line.get_xdata()) == [1, 1] for line in ax.get_lines())  # the 1x line
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "median",
        "p99",
        "1× = the baseline",
    ]


def test_legends_and_labels_cover_neither_data_nor_each_other(figure):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    axes = [ax.get_window_extent(renderer) for ax in figure.axes]
    legends = [ax.get_legend().get_window_extent(renderer) for ax in figure.axes]
    for legend, box in itertools.product(legends, axes):
        assert not legend.overlaps(box)
    ticks = [t.get_window_extent(renderer) for t in _panels(figure)["speed-up"].get_yticklabels()]
    for a, b in itertools.combinations(ticks, 2):
        assert not a.overlaps(b)


def test_plot_report_writes_a_png(tmp_path):
    _, scenarios = load_scenarios(CONFIG, rounds=200, only=["bimodal"])
    path = plot_report(run_scenarios(scenarios, progress=False), tmp_path / "a" / "r.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
