"""The package list in pyproject.toml is the source tree's, checked fast (a missing package
otherwise shows only in the slow wheel test, or in a user's ImportError); every benchmark
package keeps the same file names."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT

TOPS = ("server", "tools", "harnesses", "store")


def tree_packages() -> dict[str, str]:
    """Every folder with an __init__.py under the four top folders, as its import name."""
    out = {}
    for top in TOPS:
        for init in sorted((ROOT / top).rglob("__init__.py")):
            folder = init.parent.relative_to(ROOT)
            if "__pycache__" in folder.parts:
                continue
            out["benchdock." + ".".join(folder.parts)] = folder.as_posix()
    return out


def test_pyproject_lists_exactly_the_packages_of_the_tree() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    tree = tree_packages()
    listed = setuptools["packages"]
    assert sorted(listed) == sorted(tree), (
        f"missing from pyproject: {sorted(set(tree) - set(listed))}; "
        f"listed but not in the tree: {sorted(set(listed) - set(tree))}")
    assert setuptools["package-dir"] == tree


def test_package_data_exists() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package, patterns in setuptools["package-data"].items():
        folder = ROOT / setuptools["package-dir"][package]
        for pattern in patterns:
            assert list(folder.glob(pattern)), f"{package}: nothing matches {pattern!r}"


def test_every_benchmark_package_has_its_declaration() -> None:
    root = ROOT / "harnesses" / "benchmarks"
    packages = [p for p in root.iterdir() if (p / "__init__.py").is_file()]
    assert len(packages) >= 7
    for package in packages:
        assert (package / "benchmark.py").is_file(), f"{package.name}: no benchmark.py"
        drivers = package / "drivers"
        if drivers.is_dir():
            assert (drivers / "__init__.py").is_file(), f"{package.name}/drivers is no package"
