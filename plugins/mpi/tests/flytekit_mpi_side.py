"""flytekit's half of the serialization tests; runs in a virtualenv with flytekit 1.16.31 and
flytekitplugins-kfmpi 1.16.31.

    python flytekit_mpi_side.py OUT_DIR

Makes one task per config of ``mpi_cases.py`` and writes each serialized TaskTemplate as
``OUT_DIR/<case>.task.pb``, and its ``custom`` as JSON text (``OUT_DIR/<case>.custom.json``).
"""

from __future__ import annotations

import json
import sys
import types
from collections import OrderedDict
from pathlib import Path

import mpi_cases
from flytekit import Resources, task
from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekit.tools.translator import get_serializable
from flytekitplugins import kfmpi

IMAGE = "tests/image:1"


# flytekit takes only module-level functions with their source: one per case of mpi_cases.py.
def minimal(n: int) -> int:
    return n


def full(n: int) -> int:
    return n


def never(n: int) -> int:
    return n


def legacy(n: int) -> int:
    return n


BODIES = {"minimal": minimal, "full": full, "never": never, "legacy": legacy}


def main(out: Path) -> None:
    ns = types.SimpleNamespace()
    for name in ("MPIJob", "Launcher", "Worker", "RunPolicy", "CleanPodPolicy", "RestartPolicy"):
        setattr(ns, name, getattr(kfmpi, name))
    ns.Resources = Resources
    image = Image(name="default", fqn="tests/image", tag="1")
    settings = SerializationSettings(
        project="proj",
        domain="dev",
        version="v1",
        image_config=ImageConfig(default_image=image, images=[image]),
    )
    for case, config in mpi_cases.cases(ns).items():
        made = task(task_config=config)(BODIES[case])
        spec = get_serializable(OrderedDict(), settings, made)
        (out / f"{case}.custom.json").write_text(json.dumps(made.get_custom(settings)))
        (out / f"{case}.task.pb").write_bytes(spec.template.to_flyte_idl().SerializeToString())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
