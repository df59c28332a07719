"""Finding the Java that pyspark starts, and refusing a missing or too old one with a clear message.

pyspark runs ``$JAVA_HOME/bin/java`` when ``JAVA_HOME`` is set, else ``java`` from ``PATH``; without one it
fails with a bare ``JAVA_GATEWAY_EXITED``. Spark 4 needs Java 17 or later.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

__all__ = ["MINIMUM_JAVA", "JavaError", "find_java"]

MINIMUM_JAVA = 17
"""The oldest Java that Spark 4 runs on."""
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


class JavaError(RuntimeError):
    """No usable Java: the message says what was looked for and what to do."""


def find_java(env: Mapping[str, str]) -> str:
    """The ``java`` that pyspark would start in an environment ``env``; :class:`JavaError` if none fits."""
    java_home = env.get("JAVA_HOME", "")
    if java_home:
        java = str(Path(java_home) / "bin" / "java")
        if not os.access(java, os.X_OK):
            raise JavaError(
                f"JAVA_HOME is {java_home!r} but {java} is not an executable; set JAVA_HOME to a Java "
                f"{MINIMUM_JAVA}+ installation (or unset it to use java from PATH)"
            )
    else:
        found = shutil.which("java", path=env.get("PATH", os.defpath))
        if found is None:
            raise JavaError(
                f"Spark needs Java {MINIMUM_JAVA} or later and none was found (JAVA_HOME is unset and there "
                f"is no java on PATH); install a JDK (Debian: apt-get install openjdk-{MINIMUM_JAVA}-jre-headless) "
                "or set JAVA_HOME"
            )
        java = found
    major = _java_major(java)
    if major < MINIMUM_JAVA:
        raise JavaError(
            f"Spark needs Java {MINIMUM_JAVA} or later, but {java} is Java {major}; "
            f"install a newer JDK or point JAVA_HOME at one"
        )
    return java


@functools.cache
def _java_major(java: str) -> int:
    try:
        run = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    except OSError as exc:
        raise JavaError(f"cannot run {java}: {exc}") from exc
    match = _VERSION.search(run.stderr + run.stdout)
    if match is None:
        raise JavaError(f"cannot tell the version of {java} from `java -version`: {run.stderr.strip()!r}")
    major = int(match.group(1))
    # Java 8 and older call themselves 1.8
    return int(match.group(2) or 0) if major == 1 else major
