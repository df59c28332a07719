"""Keeping local runs so that a later run can resume from them (``roost run --resume-from NAME``).

A run the CLI starts keeps, when it ends, what resuming needs in ``$XDG_DATA_HOME/roost/runs/<name>``: its
compiled workflow, the generated workflows of its dynamic nodes, and the inputs and outputs of every node that
succeeded, with the files they refer to copied out of the run's temporary folder. A later run of the same
workflow (edited or not) resumes from it by the engine's rules (:mod:`roost_core.engine.recovery`): the nodes
of deterministic tasks whose code and inputs are unchanged are reused, the rest and everything downstream of a
change run. Only the newest :data:`KEPT_RUNS` runs are kept.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from flyteidl.core import compiler_pb2

from roost.errors import ResumeError
from roost.local.relocate import data_folder, relocate_literals
from roost_core.engine.recovery import RECOVERY_BLOB, RecoverySource, interface_changes
from roost_core.engine.state import NodeState

if TYPE_CHECKING:
    from roost.types.memo import FrameMemo
    from roost_core.engine import Run
    from roost_core.storage import Storage

KEPT_RUNS = 20
"""How many local runs are kept for resuming (the oldest go first)."""


def runs_folder() -> Path:
    """Where local runs are kept for resuming."""
    return data_folder() / "runs"


def keep(run: Run, storage: Storage, raw_prefix: str, frames: FrameMemo | None) -> Path:
    """Keep what resuming from ``run`` needs; its folder."""
    folder = runs_folder() / run.state.name
    if folder.exists():
        shutil.rmtree(folder)
    data = folder / "data"

    def copy_map(uri: str, target: Path) -> str:
        literals = run.literal_map(uri)
        kept, _ = relocate_literals(literals, raw_prefix, data, frames=frames)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(kept.SerializeToString(deterministic=True))
        return target.as_uri()

    def copy_node(uid: str, node: NodeState) -> NodeState:
        kept = NodeState.from_dict(node.to_dict())
        kept.task = None
        where = folder / "nodes" / uid
        if node.inputs_uri and node.phase.is_success:
            kept.inputs_uri = copy_map(node.inputs_uri, where / "inputs.pb")
        if node.outputs_uri and node.phase.is_success:
            kept.outputs_uri = copy_map(node.outputs_uri, where / "outputs.pb")
        if node.dynamic_closure_uri:
            closure = storage.read_proto(node.dynamic_closure_uri, compiler_pb2.CompiledWorkflowClosure)
            target = where / "dynamic.pb"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(closure.SerializeToString(deterministic=True))
            kept.dynamic_closure_uri = target.as_uri()
        if node.subnodes is not None:
            kept.subnodes = [copy_node(f"{uid}/{i}", sub) for i, sub in enumerate(node.subnodes)]
        return kept

    nodes = {uid: copy_node(uid, node) for uid, node in run.state.nodes.items()}
    folder.mkdir(parents=True, exist_ok=True)
    closure_file = folder / "closure.pb"
    closure_file.write_bytes(run.closure.SerializeToString(deterministic=True))
    source = RecoverySource(run.state.key, True, closure_file.as_uri(), nodes)
    (folder / RECOVERY_BLOB).write_bytes(source.to_bytes())
    _prune()
    return folder


def _prune() -> None:
    kept = sorted(
        (p for p in runs_folder().iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for old in kept[KEPT_RUNS:]:
        shutil.rmtree(old, ignore_errors=True)


def source(name: str, closure: compiler_pb2.CompiledWorkflowClosure) -> RecoverySource:
    """What a run of ``closure`` may reuse from the kept run ``name``; ResumeError naming what is wrong when
    there is no such run or it ran another workflow or one with an incompatible interface."""
    folder = runs_folder() / name
    blob = folder / RECOVERY_BLOB
    if not blob.exists():
        kept = sorted(p.name for p in runs_folder().glob("*/")) if runs_folder().exists() else []
        listed = ", ".join(kept) or "none"
        raise ResumeError(f"no local run {name!r} to resume from (kept runs: {listed})")
    original = compiler_pb2.CompiledWorkflowClosure()
    original.ParseFromString((folder / "closure.pb").read_bytes())
    before, after = original.primary.template.id.name, closure.primary.template.id.name
    if before != after:
        raise ResumeError(
            f"local run {name!r} ran workflow {before!r}, not {after!r}: a run resumes only from a run of the "
            "same workflow"
        )
    problems = interface_changes(original, closure)
    if problems:
        raise ResumeError(f"workflow {after!r} cannot resume local run {name!r}: " + "; ".join(problems))
    return RecoverySource.from_bytes(blob.read_bytes())
