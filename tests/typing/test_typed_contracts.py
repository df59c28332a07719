"""mypy flags a plugin whose hook implementations or handler methods break the typed contracts: the hook
protocols of ``roost_core.plugins.hookspecs`` and ``roost.plugins.hookspecs``, and the handler bases
(``TaskHandler``, ``RemoteJobPlugin``, ``K8sResourceHandler``).

Run by the types session (it has mypy, core, the SDK and the Pod plugin): each case is a small plugin module
checked in one mypy run, and the errors mypy reports for it must contain the expected text; the correct
plugin must get none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api", reason="mypy runs in the types session")

ROOT = Path(__file__).parents[2]

HEAD = "from __future__ import annotations\n\nfrom typing import Any\n\n"

CORRECT = (
    HEAD + "from collections.abc import Mapping\n\n"
    "from flyteidl.core import literals_pb2\n\n"
    "from roost.plugins.hookspecs import RegisterTaskType\n"
    "from roost_core.handler import TaskContext, TaskHandler, Transition\n"
    "from roost_core.plugins.hookspecs import RegisterHandler, hookimpl\n"
    "from roost_core.remote import JobMeta, RemoteJobPlugin\n"
    "from roost_k8s_pod.resource import K8sResourceHandler, ResourceContext\n\n\n"
    "class Handler(TaskHandler):\n"
    "    def handle(self, ctx: TaskContext) -> Transition:\n"
    "        return Transition.success()\n\n\n"
    "class Jobs(RemoteJobPlugin[str]):\n"
    "    name = 'jobs'\n\n"
    "    def create(self, ctx: TaskContext, inputs: literals_pb2.LiteralMap) -> JobMeta:\n"
    "        return {'id': 'x'}\n\n"
    "    def get(self, meta: JobMeta) -> str:\n"
    "        return 'done'\n\n"
    "    def delete(self, meta: JobMeta) -> None:\n"
    "        pass\n\n"
    "    def status(self, ctx: TaskContext, resource: str) -> Transition:\n"
    "        return Transition.success()\n\n\n"
    "class Objects(K8sResourceHandler):\n"
    "    def build_resource(self, ctx: ResourceContext) -> dict[str, Any]:\n"
    "        return {}\n\n"
    "    def phase_of(self, ctx: ResourceContext, obj: Mapping[str, Any]) -> Transition:\n"
    "        return Transition.success()\n\n\n"
    "@hookimpl\n"
    "def roost_task_handlers(register: RegisterHandler) -> None:\n"
    "    register('h', Handler, task_types=['h'])\n\n\n"
    "def roost_task_types(register: RegisterTaskType) -> None:\n"
    "    pass\n"
)

# (case, plugin module source, the check that assigns it to its protocols, expected error texts)
CASES = {
    "correct": (
        CORRECT,
        "from roost.plugins.hookspecs import TaskTypesPlugin\n"
        "from roost_core.plugins.hookspecs import TaskHandlersPlugin\n\n"
        "engine: TaskHandlersPlugin = plugin\nsdk: TaskTypesPlugin = plugin\n",
        [],
    ),
    "hook_parameter": (
        HEAD + "def roost_task_handlers(register: int) -> None:\n    pass\n",
        "from roost_core.plugins.hookspecs import TaskHandlersPlugin\n\nengine: TaskHandlersPlugin = plugin\n",
        ['variable has type "TaskHandlersPlugin"', "Got:", "def roost_task_handlers(register: int) -> None"],
    ),
    "hook_return": (
        HEAD + "def roost_blob_stores(register: Any) -> str:\n    return ''\n",
        "from roost_core.plugins.hookspecs import BlobStoresPlugin\n\nengine: BlobStoresPlugin = plugin\n",
        ['variable has type "BlobStoresPlugin"', "def roost_blob_stores(register: Any) -> str"],
    ),
    "hook_misspelled": (
        HEAD + "def roost_task_handler(register: Any) -> None:\n    pass\n",
        "from roost_core.plugins.hookspecs import TaskHandlersPlugin\n\nengine: TaskHandlersPlugin = plugin\n",
        ['expression has type Module, variable has type "TaskHandlersPlugin"'],
    ),
    "sdk_hook_extra_parameter": (
        HEAD + "def roost_task_types(register: Any, more: int) -> None:\n    pass\n",
        "from roost.plugins.hookspecs import TaskTypesPlugin\n\nsdk: TaskTypesPlugin = plugin\n",
        ['variable has type "TaskTypesPlugin"', "def roost_task_types(register: Any, more: int) -> None"],
    ),
    "handle_return": (
        HEAD + "from roost_core.handler import TaskContext, TaskHandler\n\n\n"
        "class Handler(TaskHandler):\n    def handle(self, ctx: TaskContext) -> None:\n        pass\n",
        "",
        [
            'Return type "None" of "handle" incompatible with return type "Transition" in supertype "roost_core.handler.TaskHandler"'
        ],
    ),
    "abort_parameter": (
        HEAD + "from roost_core.handler import TaskContext, TaskHandler, Transition\n\n\n"
        "class Handler(TaskHandler):\n"
        "    def handle(self, ctx: TaskContext) -> Transition:\n        return Transition.success()\n\n"
        "    def abort(self, ctx: TaskContext, force: bool) -> None:\n        pass\n",
        "",
        ['Signature of "abort" incompatible with supertype "roost_core.handler.TaskHandler"'],
    ),
    "remote_create": (
        HEAD + "from roost_core.handler import TaskContext, Transition\n"
        "from roost_core.remote import JobMeta, RemoteJobPlugin\n\n\n"
        "class Jobs(RemoteJobPlugin[str]):\n"
        "    def create(self, ctx: TaskContext, inputs: Any) -> str:\n        return ''\n\n"
        "    def get(self, meta: JobMeta) -> str:\n        return ''\n\n"
        "    def delete(self, meta: JobMeta) -> None:\n        pass\n\n"
        "    def status(self, ctx: TaskContext, resource: str) -> Transition:\n"
        "        return Transition.success()\n",
        "",
        ['Return type "str" of "create" incompatible with return type "Mapping[str, Any]" in supertype'],
    ),
    "k8s_build_resource": (
        HEAD + "from collections.abc import Mapping\n\n"
        "from roost_core.handler import Transition\n"
        "from roost_k8s_pod.resource import K8sResourceHandler, ResourceContext\n\n\n"
        "class Objects(K8sResourceHandler):\n"
        "    def build_resource(self, ctx: ResourceContext) -> str:\n        return ''\n\n"
        "    def phase_of(self, ctx: ResourceContext, obj: Mapping[str, Any]) -> Transition:\n"
        "        return Transition.success()\n",
        "",
        ['Return type "str" of "build_resource" incompatible with return type "dict[str, Any]"'],
    ),
}


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """One mypy run over every case: the error lines of each, by case."""
    folder = tmp_path_factory.mktemp("typed_contracts")
    files = []
    for case, (plugin, check, _) in CASES.items():
        (folder / f"plugin_{case}.py").write_text(plugin)
        (folder / f"check_{case}.py").write_text(
            f"from plugin_{case} import *  # noqa\nimport plugin_{case} as plugin\n{check}"
        )
        files += [str(folder / f"plugin_{case}.py"), str(folder / f"check_{case}.py")]
    stdout, stderr, _ = mypy_api.run(
        [
            "--config-file",
            str(ROOT / "mypy.ini"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "--no-error-summary",
            *files,
        ]
    )
    assert not stderr, stderr
    errors: dict[str, list[str]] = {case: [] for case in CASES}
    for line in stdout.splitlines():
        name = Path(line.split(":", 1)[0]).stem
        case = name.split("_", 1)[1] if "_" in name else name
        if case in errors:
            errors[case].append(line)
    return errors


@pytest.mark.parametrize("case", list(CASES))
def test_mypy_flags_a_broken_contract_and_accepts_a_correct_plugin(
    mypy_errors: dict[str, list[str]], case: str
) -> None:
    expected = CASES[case][2]
    found = "\n".join(mypy_errors[case])
    if not expected:
        assert found == "", found
    for text in expected:
        assert text in found, f"{case}: mypy did not say {text!r}; it said:\n{found or '(nothing)'}"
