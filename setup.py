"""Package discovery that follows the repository layout; everything else is in pyproject.toml.

The folder of each package is named once, in pyproject.toml's [tool.setuptools.package-dir]
(`export/` installs as `portrait_export`, `benchmarks/` as `portrait_bench`). Every folder below one
of them is a package of the wheel and every file in it ships (package-data "*"), so a new subpackage
or data folder cannot silently drop out (tests/test_packaging.py builds a wheel and checks).
"""
from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).resolve().parent


def package_dirs() -> dict[str, str]:
    """{package name: its folder}, as pyproject.toml declares them."""
    with open(HERE / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]["package-dir"]


def packages() -> list[str]:
    out = []
    for name, folder in package_dirs().items():
        subs = find_namespace_packages(where=str(HERE / folder), exclude=["*__pycache__*"])
        out += [name, *(f"{name}.{s}" for s in subs)]
    return out


if __name__ == "__main__":
    setup(packages=packages())
