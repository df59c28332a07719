"""Test, lint, type-check and benchmark sessions: one session per package, each in its own virtualenv.

nox                  # every package's tests, lint and types (what CI runs)
nox -s core          # one package's tests; arguments after -- go to pytest
nox -s bench -- core # benchmarks of one package
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["core", "lint", "types"]

PYTHON = "3.11"
# Each package: the folder and the extras its tests need. Only that package and what it declares get
# installed, so a missing dependency shows up here and not on a user's machine.
PACKAGES: dict[str, tuple[str, str]] = {
    "core": ("core", "test"),
}


def _install_package(session: nox.Session, name: str) -> None:
    folder, extras = PACKAGES[name]
    session.install("-e", f"./{folder}[{extras}]")


@nox.session(python=PYTHON)
def core(session: nox.Session) -> None:
    """roost-core's tests."""
    _install_package(session, "core")
    session.run("pytest", "core/tests", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def types(session: nox.Session) -> None:
    """mypy, strict, over every package's sources and tests."""
    session.install("mypy>=1.13", "types-protobuf")
    for name in PACKAGES:
        _install_package(session, name)
    for folder, _ in PACKAGES.values():
        session.run("mypy", f"{folder}/src", env={"MYPYPATH": f"{folder}/src"})


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: `nox -s bench -- core` (default: every package that has a bench/ folder)."""
    names = session.posargs or [
        n for n, (folder, _) in PACKAGES.items() if (ROOT / folder / "bench").is_dir()
    ]
    for name in names:
        if name not in PACKAGES:
            session.error(f"no package {name!r}; packages: {', '.join(PACKAGES)}")
        _install_package(session, name)
        folder = PACKAGES[name][0]
        for script in sorted((ROOT / folder / "bench").glob("bench_*.py")):
            session.run("python", str(script))
