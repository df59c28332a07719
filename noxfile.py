"""Test, lint, type-check and benchmark sessions: one session per package, each in its own virtualenv.

nox                  # every package's tests, the examples, lint and types (what CI runs)
nox -s core          # one package's tests; arguments after -- go to pytest (paths replace the folder)
nox -s bench -- core # benchmarks of one package
nox -s e2e_cold      # the end-to-end tests with warm task processes off (opt-in: not in the default run)
nox -s exhaustive    # the exhaustive variants CI leaves out, of every package that has some (opt-in)
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = [
    "core",
    "sdk",
    "admin",
    "console",
    "k8s_pod",
    "presto",
    "webapi",
    "mpi",
    "ray",
    "spark",
    "duckdb_sql",
    "examples",
    "e2e",
    "lint",
    "types",
]

PYTHON = "3.11"
# Each package: its folder and the local packages it depends on. A session installs only those and the
# package's own declared dependencies, so a missing dependency shows up here and not on a user's machine.
PACKAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "core": ("core", ()),
    "sdk": ("sdk", ("core",)),
    "admin": ("admin", ("core", "sdk")),
    "k8s_pod": ("plugins/k8s_pod", ("core", "sdk")),
    # plugins: their tests run workflows on `roost start` too, so they need the admin
    "presto": ("plugins/presto", ("core", "sdk", "admin")),
    "webapi": ("plugins/webapi", ("core", "sdk", "admin")),
    "mpi": ("plugins/mpi", ("core", "sdk", "admin", "k8s_pod")),
    "ray": ("plugins/ray", ("core", "sdk", "admin", "k8s_pod")),
    "spark": ("plugins/spark", ("core", "sdk", "admin", "k8s_pod")),
    # the example plugin written with the kit and docs/plugins.md alone (roost plugin new, then made real)
    "duckdb_sql": ("examples/plugins/roost-duckdb-sql", ("core", "sdk", "admin")),
}

HEAVY = {"ray", "spark"}
"""Packages whose dependencies (Ray, pyspark) are too heavy for the types session: installed only in their own."""


def _install(session: nox.Session, name: str, extras: str = "test", *also: str) -> None:
    """The package with ``extras``, the local packages it depends on, and ``also`` (more editable folders)."""
    folder, requires = PACKAGES[name]
    local = [arg for dep in requires for arg in ("-e", f"./{PACKAGES[dep][0]}")]
    extra = [arg for path in also for arg in ("-e", path)]
    session.install(*local, "-e", f"./{folder}[{extras}]" if extras else f"./{folder}", *extra)


def _pytest(session: nox.Session, folder: str, *options: str) -> None:
    """pytest over ``folder``, or over the paths given after ``--`` when there are any (``nox -s core --
    core/tests/test_x.py -x`` runs that file only)."""
    paths = [arg for arg in session.posargs if not arg.startswith("-") and Path(arg.split("::")[0]).exists()]
    session.run("pytest", *([] if paths else [folder]), *options, *session.posargs)


def _tests(
    session: nox.Session, name: str, extras: str = "test", *also: str, options: tuple[str, ...] = ()
) -> None:
    _install(session, name, extras, *also)
    _pytest(session, f"{PACKAGES[name][0]}/tests", *options)


WORKERS = ("-n", "2")
"""Two pytest-xdist workers (CI's machine has two cores); ``nox -s X -- -n 0`` runs the tests in one process."""
PER_MODULE = (*WORKERS, "--dist", "loadfile")
"""Two workers, a test module each at a time: for tests whose module-scoped fixtures start servers, so that each
server starts once."""


@nox.session(python=PYTHON)
def core(session: nox.Session) -> None:
    """roost-core's tests, on two pytest-xdist workers (the S3 server and handlers' warm servers are per worker,
    on free ports and in each test's own folder)."""
    _tests(session, "core", options=WORKERS)


SAMPLE_PLUGIN = "sdk/tests/plugin_package"
"""A plugin package the SDK's tests install as a user installs a plugin (data frame kind, blob store, task class)."""


@nox.session(python=PYTHON)
def sdk(session: nox.Session) -> None:
    """The roost SDK's tests, with the sample plugin installed (the flytekit interop tests make flytekit's own
    virtualenv on first run)."""
    _install(session, "sdk")
    session.install("--no-deps", "-e", f"./{SAMPLE_PLUGIN}")
    _pytest(session, "sdk/tests")


@nox.session(python=PYTHON)
def k8s_pod(session: nox.Session) -> None:
    """roost-k8s-pod's tests, against its Kubernetes API test server (kubectl comes with the test extra), on two
    pytest-xdist workers, a module each (a test's server is its own, on free ports; flytekit's side of the
    serialization tests runs once)."""
    _tests(session, "k8s_pod", options=PER_MODULE)


@nox.session(python=PYTHON)
def presto(session: nox.Session) -> None:
    """roost-presto's tests, driving its Trino protocol server (DuckDB behind Trino's HTTP protocol) with the
    real trino client, and its example with `roost run` and on `roost start`; two workers, a module each."""
    _tests(session, "presto", options=PER_MODULE)


@nox.session(python=PYTHON)
def webapi(session: nox.Session) -> None:
    """roost-webapi's tests: BigQuery and Snowflake handlers driven through the real clients against bqemulator and
    fakesnow (each stand-in, and flytekit, in a virtualenv of its own built with uv on first run); two workers, a
    module each (each worker starts the stand-ins it needs)."""
    # examples/sql_pipeline.py starts with a Trino query: roost-presto and its test server
    _tests(session, "webapi", "bigquery,snowflake,test", "./plugins/presto[testing]", options=PER_MODULE)


@nox.session(python=PYTHON)
def mpi(session: nox.Session) -> None:
    """roost-mpi's tests with a real Open MPI and mpi4py from pip (only here), its examples run with `roost run`
    and `roost start`, and flytekit's kfmpi plugin (in its own virtualenv) to compare with; two workers, a module
    each."""
    _tests(session, "mpi", options=PER_MODULE)


RAY_EXTRAS = ("test,kubernetes", "./plugins/k8s_pod[testing]")
"""The ray session's extras and the KubeRay stand-in's Kubernetes test server (also the exhaustive session's)."""


@nox.session(python=PYTHON)
def ray(session: nox.Session) -> None:
    """roost-ray's tests, on a real local Ray (installed only here); the end-to-end tests also install the
    admin (`roost start`) and build a flytekit + flytekitplugins-ray virtualenv on first run. Two pytest-xdist
    workers, a module each: most of a test's time is spent waiting on Ray runtimes starting and stopping."""
    _tests(session, "ray", *RAY_EXTRAS, options=PER_MODULE)


@nox.session(python=PYTHON)
def spark(session: nox.Session) -> None:
    """roost-spark's tests: real pyspark (only here) on the machine's Java 17, `roost start` with the admin, the
    Kubernetes test server with the spark-operator stand-in, and flytekitplugins-spark in flytekit's virtualenv; two
    workers, a module each (most of a test's time is spent starting JVMs and servers, and waiting on them)."""
    _tests(session, "spark", options=PER_MODULE)


@nox.session(python=PYTHON)
def duckdb_sql(session: nox.Session) -> None:
    """The example plugin roost-duckdb-sql (examples/plugins/), written from `roost plugin new` and docs/plugins.md:
    pip-installed from its folder as a user installs a plugin (not editable, so a file the wheel leaves out
    fails here), then its own tests, from the conformance suite to its example run with `roost run` and on
    `roost start`."""
    folder, requires = PACKAGES["duckdb_sql"]
    session.install(*[arg for dep in requires for arg in ("-e", f"./{PACKAGES[dep][0]}")])
    session.install(f"./{folder}[test]")
    # the plugin itself rebuilt on every run: a reused virtualenv would otherwise keep an earlier run's copy
    session.install("--no-deps", "--force-reinstall", f"./{folder}")
    _pytest(session, f"{folder}/tests")


ADMIN_OPTIONS = ("-n", "3", "--dist", "worksteal", "--ignore=admin/tests/test_browser.py")
"""Three workers, an idle one taking tests queued for a busy one (the crash test's runs take minutes each); the
browser tests are the console session's."""


@nox.session(python=PYTHON)
def admin(session: nox.Session) -> None:
    """roost-admin's tests, against SQLite and the PostgreSQL server at 127.0.0.1:5432, on three pytest-xdist
    workers (most of a test's time is spent waiting on servers and task processes; `-- -n 0` runs them in one)."""
    _install(session, "admin")
    _pytest(session, "admin/tests", *ADMIN_OPTIONS)


@nox.session(python=PYTHON)
def console(session: nox.Session) -> None:
    """The console's browser tests in Debian's Chromium (``/usr/bin/chromium``, or ``ROOST_CHROMIUM``), driven by
    Playwright without a browser download; they skip, saying why, when Chromium is missing. Screenshots of each
    page go to ``$ROOST_SCREENSHOTS`` when it is set."""
    _install(session, "admin", extras="test,browser")
    _pytest(session, "admin/tests/test_browser.py", "-n", "0")


@nox.session(python=PYTHON)
def examples(session: nox.Session) -> None:
    """Every example under examples/, and every runnable example of the porting guide, run with `roost run`."""
    _install(session, "sdk", extras="dataframes,pydantic")
    session.install("pytest>=8", "pytest-timeout>=2.3")
    _pytest(session, "tests/examples")


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """End-to-end tests: `roost start` in a subprocess, driven by the `roost` CLI and by a real flytekit (whose
    own virtualenv is built with uv on first run), on SQLite and a local folder, PostgreSQL, and SeaweedFS S3;
    that docs/plugin-reference.md is what docs/gen_plugin_reference.py writes (it imports core, sdk, k8s_pod);
    and that `roost plugin new` packages of every kind pass their own tests: they are pip-installed (uv) into one
    virtualenv of their own beside the local core, sdk, admin and k8s_pod, built once per session."""
    _e2e(session)


EXHAUSTIVE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "admin": (("test",), ("-m", "crash_exhaustive", *ADMIN_OPTIONS)),
    "ray": (RAY_EXTRAS, ("-m", "exhaustive")),
    "spark": (("test",), ("-m", "exhaustive")),
}
"""Packages with exhaustive variants: what their session installs, and pytest's options selecting them."""


@nox.session(python=PYTHON)
@nox.parametrize("package", [*sorted(EXHAUSTIVE), "e2e"])
def exhaustive(session: nox.Session, package: str) -> None:
    """The exhaustive variants CI leaves out (opt-in: not in the default run), each package's in a virtualenv of
    its own: the admin's long crash-test plan, ray-k8s's conformance suite and the KubeRay failure variants,
    spark-kubernetes' conformance suite, and the end-to-end run of every example with warm processes off.
    ``nox -s "exhaustive(package='ray')"`` runs one package's."""
    if package == "e2e":
        _e2e(session, "exhaustive")
        return
    extras, options = EXHAUSTIVE[package]
    _install(session, package, *extras)
    _pytest(session, f"{PACKAGES[package][0]}/tests", *options)


@nox.session(python=PYTHON)
def e2e_cold(session: nox.Session) -> None:
    """The end-to-end tests with warm task processes switched off (``ROOST_WARM_PROCESSES=0``, which the tests pass
    on to `roost start`): every task process starts cold. Left out of the default run to save CI time."""
    session.env["ROOST_WARM_PROCESSES"] = "0"
    _e2e(session)


def _e2e(session: nox.Session, selected: str = "not exhaustive") -> None:
    """Install what the end-to-end tests need and run the ``selected`` ones (a marker expression; arguments
    after ``--`` go to pytest)."""
    session.install(
        "-e", "./core", "-e", "./sdk[dataframes]", "-e", "./admin[test]", "-e", "./plugins/k8s_pod[test]"
    )
    # The light plugins' SDK sides, so that `roost register examples/` loads their examples (their own sessions
    # run them); Spark's and Ray's examples need pyspark and ray, so the tests register with --skip-errors.
    session.install("-e", "./plugins/presto", "-e", "./plugins/webapi", "-e", "./plugins/mpi")
    # py-spy: a flytekit test whose executions time out shows the stacks of the server and its task processes.
    session.install("pytest>=8", "pytest-timeout>=2.3", "pytest-xdist>=3.6", "pyyaml", "uv", "py-spy")
    # Three workers, a test module each at a time: most of a test's time is spent waiting on servers and task
    # processes (a schedule's next minute, flytekit's imports), so three modules overlap well even on two cores.
    _pytest(session, "tests/e2e", "-n", "3", "--dist", "loadfile", "-m", selected)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting; import-linter: the admin's import layers (admin/.importlinter)."""
    session.install("ruff>=0.8", "import-linter>=2.1")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # import-linter only reads the sources, so the package's folder on the path is enough (nothing is installed).
    session.run("lint-imports", "admin/.importlinter", env={"PYTHONPATH": "admin/src"})


@nox.session(python=PYTHON)
def types(session: nox.Session) -> None:
    """mypy, strict, over every package's sources; and tests/typing: mypy must flag plugin modules whose hooks
    or handler methods break the typed contracts (needs core, sdk and k8s_pod installed, as here)."""
    session.install(
        "mypy>=1.13",
        "types-protobuf",
        "types-grpcio",
        "types-PyYAML",
        "types-cachetools",
        "types-requests",
        "uv",
        # the conformance suite and the test fixtures packages ship are pytest plugins
        "pytest>=8",
    )
    light = [name for name in PACKAGES if name not in HEAVY]
    session.install(*[arg for name in light for arg in ("-e", f"./{PACKAGES[name][0]}")])
    # Handlers and test servers type-check against the client libraries they use.
    session.install("-e", "./plugins/webapi[bigquery,snowflake]", "-e", "./plugins/presto[testing]")
    # Their heavy dependencies stay in their own sessions: type-checked against their sources only.
    session.install("--no-deps", *[arg for name in sorted(HEAVY) for arg in ("-e", f"./{PACKAGES[name][0]}")])
    for folder, _ in PACKAGES.values():
        session.run("mypy", f"{folder}/src", env={"MYPYPATH": f"{folder}/src"})
    # The sample plugin type-checks against roost.extend, the surface plugin authors use.
    session.run("mypy", "-p", "roost_sample_plugin", env={"MYPYPATH": f"sdk/src:{SAMPLE_PLUGIN}/src"})
    # mypy flags plugins that break the typed contracts (hook protocols, handler bases): small cases.
    session.run("pytest", "tests/typing", "-q", "-p", "no:cacheprovider")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: `nox -s bench -- core` (default: every package that has a bench/ folder)."""
    names = session.posargs or [
        n for n, (folder, _) in PACKAGES.items() if (ROOT / folder / "bench").is_dir()
    ]
    for name in names:
        if name not in PACKAGES:
            session.error(f"no package {name!r}; packages: {', '.join(PACKAGES)}")
        _install(session, name, extras="test")
        for script in sorted((ROOT / PACKAGES[name][0] / "bench").glob("bench_*.py")):
            session.run("python", str(script))
