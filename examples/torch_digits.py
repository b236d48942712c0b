"""PyTorch models on scikit-learn's digits, trained with a gradient code past a 5× straggler.

    python examples/torch_digits.py              # a local Ray with 8 workers
    python examples/torch_digits.py --local      # threads in this process, no Ray

An MLP and a small CNN (``torch.nn``, float32) learn the 8 × 8 digits with Adam on 8
workers, worker 3 five times slower than the others. Each model is a
:class:`coded.TorchLoss`: the workers run forward and backward passes on the partitions
they hold, the gradient code (s = 1) sums them, and the master steps Adam on the flattened
parameters. Coded and uncoded runs take the same steps from the same start, so they reach
the same test accuracy; the uncoded run waits for the slow worker every iteration. The
loss and the test accuracy against wall time are plotted per model (with matplotlib).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import coded
from coded.nn import mlp
from coded.scheduler.pool import InProcessPool
from coded.scheduler.training.history import plot
from coded.workers.delays import Slowdown


def load_digits(test: int = 397, seed: int = 0):
    """The 1797 digits as float rows of 64 pixels in [0, 1], split into train and test."""
    from sklearn.datasets import load_digits as digits

    X, y = digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(X))
    X, y = X[order] / 16.0, y[order]
    return (X[test:], y[test:]), (X[:test], y[:test])


def cnn(seed: int = 0) -> torch.nn.Module:
    """Conv(1→8, 3×3) → ReLU → 2×2 max-pool → Linear(128 → 10), on rows of 64 pixels."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.nn.Sequential(
            torch.nn.Unflatten(1, (1, 8, 8)),
            torch.nn.Conv2d(1, 8, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(8 * 4 * 4, 10),
        )


MODELS = {"mlp": lambda: mlp(64, 10, hidden=[64], dtype="float32"), "cnn": cnn}


def train_both(model: str, data, runtime, args) -> dict:
    """Uncoded then coded training of ``model``, test accuracy recorded every iteration."""
    (X, y), (X_test, y_test) = data
    results = {}
    for method in ("uncoded", "coded"):
        loss = coded.TorchLoss(MODELS[model](), "cross_entropy")

        def accuracy(t, w, record, loss=loss):
            predicted = loss.predict(w, X_test).argmax(axis=1)
            record.values["accuracy"] = float(np.mean(predicted == y_test))

        results[method] = coded.train(
            X,
            y,
            loss=loss,
            optimizer=coded.Adam(lr=args.lr),
            iterations=args.iterations,
            method=method,
            s=1,
            runtime=runtime,
            progress=False,
            callback=accuracy,
        )
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["mlp", "cnn"])
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--slowdown", type=float, default=5.0)
    parser.add_argument("--local", action="store_true", help="threads, not Ray actors")
    parser.add_argument("--output", default="results/torch_digits")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)  # many small forward passes: threads would only contend
    data = load_digits()
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    print(
        f"digits: {len(data[0][0])} train, {len(data[1][0])} test rows; {args.n} workers, "
        f"worker 3 {args.slowdown:g}x slow; Adam, {args.iterations} iterations"
    )
    delays = Slowdown(args.slowdown, workers=(3,))
    pool = {"pool": InProcessPool(args.n, delays=delays)} if args.local else {"delays": delays}
    with coded.Runtime(args.n, **pool) as runtime:  # started once: Ray actors take seconds
        for model in args.models:
            report(model, train_both(model, data, runtime, args), output)
    return 0


def report(model: str, results: dict, output: Path) -> None:
    """Accuracy, loss and time of each run; the plots."""
    for method, result in results.items():
        history = result.history
        print(
            f"  {model:4s} {method:8s} test accuracy "
            f"{100 * history.series('accuracy')[-1]:5.1f}%   "
            f"final loss {history.losses[-1]:.4f}   wall time {history.times[-1]:6.2f} s"
        )
    coded_w, uncoded_w = results["coded"].weights, results["uncoded"].weights
    gap = float(np.max(np.abs(coded_w - uncoded_w)) / np.max(np.abs(uncoded_w)))
    # float32 messages: the same steps up to the decode's float32 rounding, compounded
    print(f"  {model:4s} largest difference of the weights: {gap:.1e} of the largest")
    speedup = results["uncoded"].history.times[-1] / results["coded"].history.times[-1]
    print(f"  {model:4s} coded is {speedup:.2f}x faster")
    histories = [r.history for r in results.values()]
    try:
        for quantity in ("loss", "accuracy"):
            path = output / f"{model}_{quantity}.png"
            plot(histories, path, quantity=quantity, title=f"{model}: {quantity}")
        print(f"  plots: {output / model}_loss.png, {output / model}_accuracy.png")
    except ImportError as exc:
        print(f"  (no plot: {exc})")


if __name__ == "__main__":
    raise SystemExit(main())
