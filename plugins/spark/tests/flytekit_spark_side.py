"""flytekit's half of the encoding comparison; runs in a virtualenv with flytekit and flytekitplugins-spark.

    python flytekit_spark_side.py

Serializes a task for each case of ``spark_cases.py`` and prints ``{case: TaskTemplate.custom}`` as JSON.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from flytekit import PodTemplate, task
from flytekit.configuration import ImageConfig, SerializationSettings
from flytekit.tools.translator import get_serializable
from flytekitplugins.spark import Spark
from google.protobuf.json_format import MessageToDict
from spark_cases import CASES


def config(arguments: dict[str, Any]) -> Spark:
    given = dict(arguments)
    for pod in ("driver_pod", "executor_pod"):
        if pod in given:
            given[pod] = PodTemplate(**given[pod])
    return Spark(**given)


def body(n: int) -> int:
    """Every case's task runs this (flytekit takes module-level functions only)."""
    return n


def main() -> None:
    settings = SerializationSettings(image_config=ImageConfig.auto_default_image())
    customs = {}
    for name, arguments in CASES.items():
        spark_task = task(task_config=config(arguments))(body)
        entity = get_serializable(OrderedDict(), settings, spark_task)
        customs[name] = MessageToDict(entity.template.to_flyte_idl().custom)
    print(json.dumps(customs))


if __name__ == "__main__":
    main()
