"""The wire of training messages: bytes of the declared size, rebuilt to what was sent, and
the acknowledgement protocol keeping DIANA's shifts and error feedback's residuals in step on
both ends when the master reads only some messages, and after a worker restarts."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from coded.compression import QSGD, AdaptiveQuantizer, Diana, ErrorFeedback, TopK
from coded.wire import Downlink, Uplink

FORMATS = {
    "float64": lambda: None,
    "QSGD(7)/64": lambda: QSGD(7, bucket_size=64),
    "ALQ(3)": lambda: AdaptiveQuantizer(3, refit_every=2),
    "Diana": lambda: Diana(QSGD(3), alpha=0.25, n=4),
    "EF(top-5)": lambda: ErrorFeedback(TopK(5)),
}


@pytest.mark.parametrize("make", FORMATS.values(), ids=FORMATS.keys())
def test_every_message_is_bytes_of_the_declared_size(make):
    d, rng = 200, np.random.default_rng(0)
    link = Uplink(make(), d, seed=3)
    acks = np.zeros(4, dtype=np.int64)
    for t in range(3):
        for worker in range(4):
            message = rng.standard_normal(d + 1)
            data = link.send(worker, t, message, acks)
            assert data.dtype == np.uint8 and data.nbytes == link.message_bytes
            rebuilt = link.receive(worker, data)
            loss = message[-1] if make() is None else np.float32(message[-1])  # as sent
            assert rebuilt.shape == (d + 1,) and rebuilt[-1] == loss
        acks = link.acks(4)
    if make() is None:
        np.testing.assert_array_equal(rebuilt, message)


def test_float32_models_send_float32_and_quantised_ones_an_eighth():
    d = 1000
    assert Uplink(None, d, np.float32).message_bytes == 4 * (d + 1)
    assert Uplink(QSGD(7), d).message_bytes == 4 + d // 2 + 4  # norm, 4 bits each, loss


def _protocol(compressor, reads: list[set[int]], restart: dict[int, int] | None = None):
    """Run the rounds: every worker sends, the master reads the workers in ``reads[t]``;
    at round ``t`` of ``restart`` the worker ``restart[t]`` loses its state (a new actor).
    Returns the worker ends' and the master's links."""
    n, d, rng = 4, 30, np.random.default_rng(1)
    workers = {i: Uplink(compressor, d, seed=5) for i in range(n)}  # one copy per actor
    master = Uplink(compressor, d, seed=5)
    for t, read in enumerate(reads):
        if restart and t in restart:
            workers[restart[t]] = Uplink(compressor, d, seed=5)
        acks = master.acks(n)
        for i in range(n):
            data = workers[i].send(i, t, rng.standard_normal(d + 1), acks)
            if i in read:
                master.receive(i, data)
    return workers, master


def test_diana_shifts_agree_on_both_ends_whichever_messages_are_read():
    rng = np.random.default_rng(2)
    reads = [set(rng.choice(4, size=rng.integers(1, 5), replace=False)) for _ in range(30)]
    diana = Diana(QSGD(3), alpha=0.25, n=4)
    workers, master = _protocol(diana, reads)
    final = master.acks(4)
    for i in range(4):
        end = workers[i]._workers[i]
        end.acknowledge(final[i])  # the next round's acknowledgement
        assert end.count == final[i] == sum(i in read for read in reads)
        np.testing.assert_allclose(end.state, master._shifts[i], rtol=1e-12)


def test_a_restarted_worker_is_recognised_and_both_ends_reset():
    diana = Diana(QSGD(3), alpha=0.25, n=4)
    reads = [{0, 1, 2, 3}] * 5
    workers, master = _protocol(diana, reads, restart={3: 1})
    final = master.acks(4)
    assert final.tolist() == [5, 2, 5, 5]  # worker 1 counts again from its restart
    end = workers[1]._workers[1]
    end.acknowledge(final[1])
    np.testing.assert_allclose(end.state, master._shifts[1], rtol=1e-12)


def test_error_feedback_owes_only_what_the_master_read():
    """A message the master did not read leaves the residual as it was: what the worker
    owes is what it did not get across in the messages that were read."""
    d = 6
    link = Uplink(ErrorFeedback(TopK(1)), d)
    master = copy.deepcopy(link)
    g = np.append(np.arange(1.0, d + 1), 0.0)
    master.receive(0, link.send(0, 0, g, master.acks(1)))  # read: sends 6, owes 1..5
    link.send(0, 1, g, master.acks(1))  # not read
    data = link.send(0, 2, g, master.acks(1))
    np.testing.assert_array_equal(link._workers[0].state, np.append(np.arange(1.0, d), 0.0))
    np.testing.assert_array_equal(master.receive(0, data)[:-1], [0, 0, 0, 0, 10, 0])


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.zeros(9, dtype=np.uint8), "must be 10 bytes \\(uint8\\), not uint8 of shape \\(9,\\)"),
        (np.zeros(10), "must be 10 bytes \\(uint8\\), not float64"),
    ],
)
def test_bytes_that_are_not_a_message_are_refused(data, match):
    with pytest.raises(ValueError, match=match):
        Uplink(QSGD(7), 3).receive(0, data)


def test_a_worker_ahead_of_the_master_is_refused():
    link, master = Uplink(Diana(QSGD(2), 0.5, 2), 3), Uplink(Diana(QSGD(2), 0.5, 2), 3)
    link._workers.clear()
    message = np.ones(4)
    master.receive(0, link.send(0, 0, message, np.zeros(2)))
    ahead = link.send(0, 1, message, np.array([1, 0]))  # committed: counts 1
    fresh = Uplink(Diana(QSGD(2), 0.5, 2), 3)
    with pytest.raises(ValueError, match="worker 0 counts 1 messages read, the master 0"):
        fresh.receive(0, ahead)


def test_the_broadcast_keeps_every_worker_in_step_and_tracks_the_model():
    """Workers hold the master's x̂ bit for bit; x̂ follows w within a quantised step; the
    bytes are a keyframe's d floats, then ⌈bits / 8⌉ of an update."""
    d, rng = 300, np.random.default_rng(3)
    master = Downlink(QSGD(7, bucket_size=64), d, np.float32, keyframe_every=10)
    workers = [Downlink(QSGD(7, bucket_size=64), d, np.float32, keyframe_every=10)] * 2
    w = rng.standard_normal(d)
    for t in range(25):
        w = w + 0.01 * rng.standard_normal(d)  # a small step: x̂ stays close
        data = master.send(w)
        keyframe = t % 10 == 0
        expected = 5 + (4 * d if keyframe else -(-QSGD(7, bucket_size=64).message_bits(d) // 8))
        assert data.nbytes == expected
        for i, end in enumerate(workers):
            np.testing.assert_array_equal(end.receive(i, data), master.model)
        assert np.linalg.norm(master.model - w) < (1e-6 if keyframe else 0.05) * np.linalg.norm(w)


def test_a_worker_that_missed_an_update_is_refused_until_the_next_keyframe():
    master, worker = Downlink(QSGD(3), 5, keyframe_every=4), Downlink(QSGD(3), 5)
    sent = [master.send(np.full(5, float(t))) for t in range(6)]
    worker.receive(0, sent[0])
    worker.receive(0, sent[1])  # update 2 is missed
    with pytest.raises(ValueError, match="worker 0 missed a model update .* holds update 1"):
        worker.receive(0, sent[3])
    np.testing.assert_array_equal(worker.receive(0, sent[4]), np.full(5, 4.0))  # a keyframe
    np.testing.assert_array_equal(worker.receive(0, sent[5]), master.model)  # in step again
    with pytest.raises(ValueError, match="'broadcast_compressor' must be None or an unbiased"):
        Downlink(TopK(2), 5)
