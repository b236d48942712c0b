"""Coded inference: a digits MLP on 16 workers, predictions decoded from whoever answered.

    python examples/coded_inference.py           # a local Ray with 16 workers

A small MLP is trained on half of scikit-learn's digits; the other half is the batch to
label. The batch is cut into k = 8 blocks and Berrut-coded into 16 shares
(:class:`coded.BerrutCode`, BACC); each worker evaluates the model's logits (pre-softmax
outputs, which decode better than probabilities) on its share, and the master decodes the
logits of every input from the answers that arrived and takes the argmax (ApproxIFER).
Berrut interpolates the logits along a curve through the blocks, so the blocks are dealt
so that the k inputs coded together are close (a greedy nearest-neighbour chain of the
inputs, cut in runs of k; no labels used): with the inputs in their given order the
decoded accuracy drops a few points more (``benchmarks/inference.py`` measures both).

Stragglers are 5x slow (compute, then sleep 4x as long). Each worker's model also sleeps
``--seconds-per-row`` per input, so that 16 workers on a laptop's few cores take the time
dedicated cores would. Next to Berrut (stopping at n - stragglers answers): the plain map
(16 blocks of the inputs, waiting for all), 2-replication (8 blocks on 2 workers each, the
first copy wins) and dropping the stragglers (the plain map's answers without the
stragglers' blocks, whose inputs count as wrong; latency: when the last other arrived).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import coded
from coded.workers.delays import TraceReplay
from coded.workers.kernels import Apply

N, K, FACTOR = 16, 8, 5.0
STRAGGLERS = (3, 9, 12, 6)  # the first s of these are slow; they hold 4 distinct 2-replicas
METHODS = ("Berrut coded", "wait for all", "2-replication", "drop stragglers")


def train(seed: int = 0):
    """An MLP trained on a standardised half of the digits: ``(model, X_test, y_test)``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    model = MLPClassifier((32,), alpha=1.0, max_iter=600, random_state=seed)
    model.fit(scaler.transform(X_train), y_train)
    return model, scaler.transform(X_test), y_test


def logits_function(model, seconds_per_row: float = 0.0):
    """``f(batch)``: the model's logits on the batch's rows, then a sleep of
    ``seconds_per_row`` per row (a dedicated core's time). A closure, so Ray ships it."""
    weights, biases = model.coefs_, model.intercepts_

    def logits(batch):
        hidden = batch
        for W, b in zip(weights[:-1], biases[:-1], strict=True):
            hidden = np.maximum(hidden @ W + b, 0.0)
        time.sleep(seconds_per_row * len(batch))
        return hidden @ weights[-1] + biases[-1]

    return logits


def nearest_chain(X: np.ndarray) -> np.ndarray:
    """An order of the rows in which each is the nearest unvisited one to the last."""
    squares = (X * X).sum(axis=1)
    distances = squares[:, None] + squares[None, :] - 2 * X @ X.T
    order = [0]
    distances[:, 0] = np.inf
    for _ in range(len(X) - 1):
        order.append(int(distances[order[-1]].argmin()))
        distances[:, order[-1]] = np.inf
    return np.array(order)


def coded_blocks(X: np.ndarray, k: int, order: np.ndarray | None = None):
    """The k blocks (the last padded by repeating a row) and ``rows[j]``: block j's inputs.
    Row r of every block holds k consecutive inputs of ``order`` (:func:`nearest_chain`)."""
    order = nearest_chain(X) if order is None else order
    order = np.concatenate([order, np.repeat(order[-1:], -len(X) % k)])
    rows = order.reshape(-1, k).T
    return [X[r] for r in rows], rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=K)
    parser.add_argument("--seconds-per-row", type=float, default=1e-3)
    args = parser.parse_args(argv)

    model, X, y = train()
    exact = model.predict(X)
    f = logits_function(model, args.seconds_per_row)
    blocks, rows = coded_blocks(X, args.k)
    counts = (0, 1, 2, 4)
    slow = [[FACTOR if w in STRAGGLERS[:s] else 1.0 for w in range(N)] for s in counts]
    # round 0 warms the workers up; then per count: Berrut, wait for all, 2-replication
    trace = TraceReplay(np.vstack([np.ones(N), np.repeat(slow, 3, axis=0)]), scale=1.0)
    print(f"{len(X)} held-out digits, exact model accuracy {100 * np.mean(exact == y):.2f}%")
    print(f"Berrut: n={N}, k={args.k}; stragglers {FACTOR:g}x slow; starting 16 workers ...")
    table = []
    with coded.Runtime(N, delays=trace) as rt:
        plain, replicated = coded.Replication(N, 1), coded.Replication(N, 2)
        all_job = rt.place_job([(s,) for s in plain.encode(X)], Apply(f), plain)
        two_job = rt.place_job([(s,) for s in replicated.encode(X)], Apply(f), replicated)
        all_job.run()
        for s in counts:
            policy = coded.Approximate(responses=N - s)
            code = coded.BerrutCode(N, args.k)
            decoded, metrics = rt.map(f, blocks, code=code, policy=policy, return_metrics=True)
            predicted = np.empty(len(X), int)
            for block_rows, logits in zip(rows, decoded, strict=True):
                predicted[block_rows] = logits.argmax(axis=1)
            results = {"Berrut coded": (predicted, metrics.total_s)}
            results["wait for all"] = (all_job.run().argmax(axis=1), all_job.metrics.total_s)
            results["2-replication"] = (two_job.run().argmax(axis=1), two_job.metrics.total_s)
            kept, size = exact.copy(), -(-len(X) // N)  # worker w held rows w·size ...
            for w in STRAGGLERS[:s]:
                kept[w * size : (w + 1) * size] = -1  # no prediction: wrong
            seen = all_job.metrics.seen
            last = max(seen[w] for w in range(N) if w not in STRAGGLERS[:s])
            results["drop stragglers"] = (kept, last)
            for method in METHODS:
                predicted, seconds = results[method]
                table.append((s, method, predicted, seconds))
        all_job.close()
        two_job.close()

    print(f"\n{'stragglers':>10}  {'method':>15}  {'accuracy %':>10}  {'agreement %':>11}  latency")
    for s, method, predicted, seconds in table:
        accuracy, agreement = 100 * np.mean(predicted == y), 100 * np.mean(predicted == exact)
        latency = f"{1e3 * seconds:5.0f} ms"
        print(f"{s:>10}  {method:>15}  {accuracy:>10.2f}  {agreement:>11.2f}  {latency}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
