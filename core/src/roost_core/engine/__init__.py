"""The engine: the node state machine that runs compiled workflows, locally or on a server."""

from roost_core.engine.config import EngineConfig, ExecutionOptions
from roost_core.engine.engine import Engine, InvalidInputsError, RoundResult
from roost_core.engine.launcher import (
    ChildLauncher,
    ChildRequest,
    ChildStatus,
    InProcessLauncher,
    LaunchPlanEntry,
)
from roost_core.engine.phases import NodePhase, WorkflowPhase
from roost_core.engine.run import Run
from roost_core.engine.signals import MemorySignals, SignalSource, SignalUnavailableError
from roost_core.engine.state import ExecutionState, NodeState, TaskAttemptState
from roost_core.engine.store import (
    FileStateStore,
    MemoryStateStore,
    ObjectStateStore,
    StateStore,
    StateStoreError,
)

__all__ = [
    "ChildLauncher",
    "ChildRequest",
    "ChildStatus",
    "Engine",
    "EngineConfig",
    "ExecutionOptions",
    "ExecutionState",
    "FileStateStore",
    "InProcessLauncher",
    "InvalidInputsError",
    "LaunchPlanEntry",
    "MemorySignals",
    "MemoryStateStore",
    "NodePhase",
    "NodeState",
    "ObjectStateStore",
    "RoundResult",
    "Run",
    "SignalSource",
    "SignalUnavailableError",
    "StateStore",
    "StateStoreError",
    "TaskAttemptState",
    "WorkflowPhase",
]
