"""The Spark session of Spark tasks, and its reuse between the tasks of one process.

A JVM holds at most one ``SparkContext``, and starting one takes seconds. Tasks that run in one process
(``roost run``: every task of the run, in threads; a notebook calling tasks) therefore share a session when
they ask for the same one: the same master (``local[N]``, N from the task's CPU resources) and the same
``spark_conf`` and ``hadoop_conf``. A task asking for a different one waits until the session in use is
released, then the old session is stopped and a new one started. A released session stays up for the next
task, and is stopped when the process exits.

Where the process was started by an engine that already configured Spark (the ``spark`` handler of
``roost start`` puts the master and settings in ``PYSPARK_SUBMIT_ARGS``; on Kubernetes spark-submit starts
the driver), the task only attaches to that configuration: each attempt is its own process and JVM, which
its process group takes down on abort.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["SessionKey", "engine_configured", "local_master", "parse_cpus", "session", "shared_sessions"]

LOCALHOST_SETTINGS = {"spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1"}
"""A local session listens on the loopback address only (a laptop's host name may not resolve)."""
QUIET_SETTINGS = {"spark.ui.showConsoleProgress": "false"}
"""No progress bars in task logs."""


@dataclass(frozen=True)
class SessionKey:
    """What a session is made of; tasks asking for equal keys share one."""

    master: str
    settings: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, master: str, spark_conf: Mapping[str, str], hadoop_conf: Mapping[str, str]) -> SessionKey:
        """The key of a session on ``master`` with a task's settings (Hadoop's as ``spark.hadoop.*``)."""
        return cls(master, tuple(sorted(effective_settings(spark_conf, hadoop_conf).items())))


def effective_settings(spark_conf: Mapping[str, str], hadoop_conf: Mapping[str, str]) -> dict[str, str]:
    """The Spark settings a task's configuration amounts to."""
    settings = {**QUIET_SETTINGS, **LOCALHOST_SETTINGS, **spark_conf}
    settings.update({f"spark.hadoop.{key}": value for key, value in hadoop_conf.items()})
    return settings


def local_master(cpus: float | None) -> str:
    """``local[N]`` for a task given ``cpus`` (rounded up; at least 1), ``local[*]`` when it gives none."""
    if cpus is None:
        return "local[*]"
    return f"local[{max(1, -int(-cpus // 1))}]"


def parse_cpus(quantity: object) -> float | None:
    """CPUs in a Kubernetes quantity (``2``, ``"1.5"``, ``"500m"``); None when it is not one."""
    text = str(quantity).strip()
    try:
        return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        return None


def engine_configured() -> bool:
    """Whether Spark was configured for this process by what started it (an engine or spark-submit)."""
    return "--master" in os.environ.get("PYSPARK_SUBMIT_ARGS", "") or "PYSPARK_GATEWAY_PORT" in os.environ


class SharedSessions:
    """One session per process, shared by the tasks that ask for the same :class:`SessionKey`."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._key: SessionKey | None = None
        self._session: Any = None
        self._users = 0
        self.started = 0
        """How many sessions this process started (for tests and benchmarks)."""

    @contextmanager
    def use(self, key: SessionKey, app_name: str) -> Iterator[SparkSession]:
        """The session for ``key``, started if needed, held until the block ends."""
        with self._changed:
            while self._users and self._key != key:
                self._changed.wait()
            if self._key != key or not _alive(self._session):
                self._stop_locked()
                self._session = _start(key, app_name)
                self._key = key
                self.started += 1
            self._users += 1
            session = self._session
        try:
            yield session
        finally:
            with self._changed:
                self._users -= 1
                self._changed.notify_all()

    def stop(self) -> None:
        """Stop the session, once no task uses it."""
        with self._changed:
            while self._users:
                self._changed.wait()
            self._stop_locked()

    def _stop_locked(self) -> None:
        if self._session is not None:
            self._session.stop()
        self._session = None
        self._key = None


def _start(key: SessionKey, app_name: str) -> SparkSession:
    from pyspark.sql import SparkSession

    # Read by the JVM as it starts: without it Spark looks up this host's address and warns about it.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(app_name).master(key.master)
    for name, value in key.settings:
        builder = builder.config(name, value)
    return builder.getOrCreate()


def _alive(session: Any) -> bool:
    if session is None:
        return False
    context = session.sparkContext
    return context._jsc is not None  # stopped contexts drop their Java peer


shared_sessions = SharedSessions()
"""The sessions of this process."""
atexit.register(shared_sessions.stop)


@contextmanager
def session(key: SessionKey, app_name: str) -> Iterator[SparkSession]:
    """The session a task with ``key`` runs with: the process's configured one when an engine or
    spark-submit configured Spark, else a shared local one (see the module docstring)."""
    if engine_configured():
        from pyspark.sql import SparkSession

        yield SparkSession.builder.appName(app_name).getOrCreate()
        return
    with shared_sessions.use(key, app_name) as shared:
        yield shared
