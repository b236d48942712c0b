"""A quiet, honest CLI: one-line errors (tracebacks with --debug), Ctrl-C, no Ray noise.

The end-to-end checks run ``coded`` (or a small script) in a subprocess with its own Ray:
the session's Ray would make ``connect`` return early and hide what a user sees.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import coded.scheduler.cli.recommend as recommend_cli
from coded.scheduler.cli import main
from coded.scheduler.progress import progress, set_quiet
from coded.scheduler.training.history import Progress

ROOT = Path(__file__).parents[2]
RAY_NOISE = (
    "Token authentication",
    "A worker died",
    "OOM",
    "PYTHON worker processes",
    "Started a local Ray",
    "Traceback",
)
RECOMMEND = ["recommend", "--n", "4", "--shape", "5", "5", "5", "--delays", "{type: NoDelay}"]


def _coded(*args, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "coded.scheduler.cli", *args]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )


def _finish(process: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """Its stdout and stderr once it exits; killed if it runs past ``timeout``."""
    try:
        return process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _job(tmp_path, **fields) -> str:
    job = {
        "job": "matmul",
        "n": 4,
        "code": {"type": "MDSCode", "n": 4, "k": 3},
        "workers": {"num_cpus": 0.25},
        "data": {"A": {"shape": [40, 8], "seed": 0}, "B": {"shape": [8, 2], "seed": 1}},
        "rounds": 2,
        **fields,
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return str(path)


def _fail(error):
    def run(args):
        raise error

    return run


def test_an_error_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(recommend_cli, "run", _fail(RuntimeError("\x1b[31mboom\x1b[0m\ndetail")))
    assert main(RECOMMEND) == 1
    assert capsys.readouterr().err == "coded: error: RuntimeError: boom (more with --debug)\n"


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(monkeypatch, where):
    monkeypatch.setattr(recommend_cli, "run", _fail(RuntimeError("boom")))
    argv = ["--debug", *RECOMMEND] if where == "before" else [*RECOMMEND, "--debug"]
    with pytest.raises(RuntimeError, match="boom"):
        main(argv)


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    monkeypatch.setattr(recommend_cli, "run", _fail(KeyboardInterrupt()))
    assert main(RECOMMEND) == 130
    assert capsys.readouterr().err == "coded recommend: interrupted\n"


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_bars_go_to_stderr_unless_quiet(quiet, capsys):
    set_quiet(quiet)
    try:
        for _ in progress(range(3), desc="rounds", enabled=True):
            time.sleep(0.3)  # bars show after half a second
    finally:
        set_quiet(False)
    out, err = capsys.readouterr()
    assert out == "" and ("rounds" in err) != quiet


@pytest.mark.parametrize("quiet", [False, True])
def test_training_bars_follow_quiet_too(quiet, capsys):
    set_quiet(quiet)
    try:
        with Progress(3, "newton", enabled=True) as bar:
            for _ in range(3):
                bar.update(0.5)
    finally:
        set_quiet(False)
    out, err = capsys.readouterr()
    assert out == "" and ("newton" in err) != quiet


def test_usage_errors_stay_argparse_s(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["recommend", "--n", "four"])
    assert caught.value.code == 2 and "usage: coded recommend" in capsys.readouterr().err


@pytest.mark.slow
def test_an_unreachable_address_is_one_line_within_the_timeout(tmp_path):
    start = time.perf_counter()
    process = _coded("run", _job(tmp_path, address="127.0.0.1:1"))
    out, err = _finish(process, 120)
    assert process.returncode == 1, err
    assert err.splitlines() == [
        "coded: error: ConnectionError: could not reach a Ray cluster at '127.0.0.1:1' within "
        "30 s: Connection refused"
    ]
    assert time.perf_counter() - start < 30 + 15  # imports included; not minutes of retries


@pytest.mark.slow
def test_an_injected_crash_leaves_no_ray_noise(tmp_path):
    delays = {
        "type": "Compose",
        "models": [
            {"type": "FailStop", "workers": [1], "round": 1},
            {"type": "FixedDelay", "seconds": 0.3, "workers": [0]},  # Ray stays up a while
        ],
    }
    process = _coded("run", _job(tmp_path, delays=delays, rounds=8))
    out, err = _finish(process, 240)
    assert process.returncode == 0, err
    for noise in RAY_NOISE:
        assert noise not in out + err, (noise, out, err)
    assert out.lstrip().startswith("{")  # only the summary on stdout


@pytest.mark.slow
def test_an_unexpected_worker_death_is_one_line():
    script = """
import logging, os, time
import ray
from coded.scheduler.cluster import connect, disconnect

seen = []  # a filter sees the record and lets it through, to Python's last-resort handler
logging.getLogger("coded.scheduler.cluster").addFilter(lambda record: seen.append(record) or True)
started = connect(num_cpus=1)

@ray.remote(max_restarts=0)
class Doomed:
    def die(self):
        os._exit(1)

try:
    ray.get(Doomed.remote().die.remote())
except ray.exceptions.RayActorError:
    pass
end = time.time() + 30
while not seen and time.time() < end:
    time.sleep(0.1)
disconnect(started)
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    deaths = [line for line in lines if "died unexpectedly" in line]
    assert len(deaths) == 1 and deaths[0].startswith("coded: warning: a Ray worker process died")
    assert "OOM" not in done.stdout + done.stderr


@pytest.mark.slow
def test_ctrl_c_stops_a_long_run_and_ray(tmp_path):
    slow = {"type": "FixedDelay", "seconds": 60.0}  # every worker, every round
    process = _coded("run", _job(tmp_path, delays=slow, deadline=600), start_new_session=True)
    started = _wait(lambda: len(_in_session(process.pid, "_WorkerActor")) >= 4, 120)
    time.sleep(1.0)  # the first round is under way
    process.send_signal(signal.SIGINT)
    out, err = _finish(process, 60)
    assert started
    assert process.returncode == 130
    assert err.splitlines()[-1] == "coded run: interrupted" and "Traceback" not in err
    assert _wait(lambda: not _in_session(process.pid, "raylet"), 10)  # Ray is gone


def _in_session(session: int, name: str) -> list[str]:
    """Processes of a session whose command line mentions ``name``."""
    found = subprocess.run(["pgrep", "-s", str(session), "-f", name], capture_output=True)
    return found.stdout.split()


def _wait(condition, seconds: float) -> bool:
    end = time.perf_counter() + seconds
    while not condition():
        if time.perf_counter() > end:
            return False
        time.sleep(0.2)
    return True
