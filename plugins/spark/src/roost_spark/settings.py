"""The settings of the local Spark handler (``engine.handlers.spark``)."""

from __future__ import annotations

from pydantic import Field, field_validator

from roost_core.extend import LocalProcessSettings, WarmSettings
from roost_spark.conf import check_conf

__all__ = ["SparkLocalSettings"]


class SparkLocalSettings(LocalProcessSettings):
    """``local-process``'s settings (``image_environments``, ``kill_grace_period``, ``work_dir``, ``log_dir``,
    ``keep_logs``, ``task_environment``), plus what a local Spark needs."""

    warm: WarmSettings = WarmSettings(enabled=False)
    """Warm task processes (see ``local-process``): off by default here, as a task's Spark session starts a JVM that has not been
    verified from a forked warm interpreter."""
    java_home: str = ""
    """``JAVA_HOME`` of Spark tasks (Java 17 or later); empty: the engine's own, else ``java`` from PATH."""
    spark_conf: dict[str, str] = Field(default_factory=lambda: {"spark.ui.enabled": "false"})
    """Spark settings every task gets, under its own ``spark_conf``. By default the web UI is off: many local
    attempts at once would each look for a free port from 4040 up."""

    @field_validator("spark_conf")
    @classmethod
    def _valid_conf(cls, value: dict[str, str]) -> dict[str, str]:
        problems = check_conf(value, {})
        if problems:
            raise ValueError("; ".join(problems))
        return value
