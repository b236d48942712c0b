"""The public surface and the rooms' rules: what ``coded`` exports, what each module declares,
which names cross a package boundary, and what the distribution installs."""

from __future__ import annotations
import __future__

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import tomllib

import coded
from coded import scheduler, workers

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "coded": ROOT / "coded",
    "coded.workers": ROOT / "workers",
    "coded.scheduler": ROOT / "scheduler",
}


def _modules() -> list[str]:
    names = []
    for package in (coded, workers, scheduler):
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__[:1], package.__name__ + "."):
            if package is coded and info.name.startswith(("coded.workers", "coded.scheduler")):
                continue
            names.append(info.name)
    return sorted(names)


MODULES = _modules()


def _public(name: str, value) -> bool:
    """A public attribute of a module: not private, not a submodule, not a __future__ flag."""
    return not name.startswith("_") and not isinstance(value, ModuleType | __future__._Feature)


def test_coded_exports_exactly_its_public_names_sorted():
    public = {name for name, value in vars(coded).items() if _public(name, value)}
    assert coded.__all__ == sorted(public | set(coded._LAZY))


def test_every_exported_name_resolves_and_what_users_catch_is_there():
    for name in coded.__all__:
        assert getattr(coded, name) is not None
    assert {
        "RoundFailedError",
        "RoundTimeoutError",
        "TrainResult",
        "History",
        "RoundMetrics",
        "CodedOperator",
        "Loss",
        "Optimizer",
    } <= set(coded.__all__)
    assert issubclass(coded.RoundFailedError, RuntimeError)
    assert set(coded._LAZY) <= set(dir(coded))  # lazy names show in dir() and completion


@pytest.mark.parametrize("name", MODULES)
def test_modules_declare_their_public_names(name):
    module = importlib.import_module(name)
    if name == "coded.scheduler.cli.__main__":
        pytest.skip("an entry point, not a library module")
    declared = getattr(module, "__all__", None)
    if declared is None:  # a package whose __init__ holds only its docstring
        assert not [n for n, v in vars(module).items() if _public(n, v)], name
        return
    assert all(hasattr(module, n) for n in declared), name


def _package_of(name: str) -> str:
    """The package that owns ``name``: itself for a package, else its parent."""
    module = importlib.import_module(name)
    return name if hasattr(module, "__path__") else name.rpartition(".")[0]


def _private_imports(path: Path, module: str) -> list[str]:
    """``from X import _name`` and ``from X._private import ...`` reaching into another package."""
    here = _package_of(module)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        base = here.split(".")[: len(here.split(".")) - node.level + 1] if node.level else []
        source = ".".join(base + ([node.module] if node.module else []))
        if not source.startswith("coded"):
            continue
        parts = source.split(".")
        private = [i for i, part in enumerate(parts) if part.startswith("_")]
        if private:  # a private module belongs to the package that holds it
            owner = ".".join(parts[: private[0]])
        elif any(alias.name.startswith("_") for alias in node.names):
            owner = _package_of(source)
        else:
            continue
        if owner != here:
            found.append(f"{module}: from {source} import {[a.name for a in node.names]}")
    return found


def test_no_module_imports_a_private_name_of_another_package():
    offenders = []
    for name in MODULES:
        module = importlib.import_module(name)
        offenders += _private_imports(Path(module.__file__), name)
    assert offenders == []


def test_the_distribution_installs_one_top_level_name():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["name"] == "coded-runtime"
    setuptools = project["tool"]["setuptools"]
    assert setuptools["package-dir"] == {
        "coded": "coded",
        **{
            name: str(folder.relative_to(ROOT))
            for name, folder in FOLDERS.items()
            if name != "coded"
        },
    }
    folders = {
        name
        + ("." + ".".join(init.parent.relative_to(folder).parts) if init.parent != folder else "")
        for name, folder in FOLDERS.items()
        for init in folder.rglob("__init__.py")
    }
    assert sorted(setuptools["packages"]) == sorted(folders)
    assert project["project"]["scripts"]["coded"] == "coded.scheduler.cli:main"


def test_outside_the_checkout_only_coded_is_importable(tmp_path):
    script = (
        "import importlib.util as u, coded.scheduler.runtime, coded.workers.worker; "
        "print(u.find_spec('workers') is None, u.find_spec('scheduler') is None)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "True"]
