"""``ShellTask``: a task that runs a shell script, with inputs and outputs interpolated (flytekit's task).

::

    from roost import File, OutputLocation, ShellTask, kwtypes

    count_words = ShellTask(
        name="count_words",
        script="wc -w < {inputs.text} > {outputs.counted}",
        inputs=kwtypes(text=File),
        output_locs=[OutputLocation(var="counted", var_type=File, location="{inputs.text}.count")],
    )

The script is a Python format string over ``inputs``, ``outputs`` (the output locations, themselves format
strings over ``inputs``) and ``ctx`` (the task's context). File and Directory inputs are downloaded and
stand for their local paths. Outputs are Files or Directories read from their locations after the script
ran. A non-zero exit fails the attempt with a :class:`~roost.errors.RecoverableError` (retried, as
flytekit does), naming the exit code and the script's output.
"""

from __future__ import annotations

import datetime
import os
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from roost.context import current_context
from roost.errors import RecoverableError, WorkflowDefinitionError
from roost.interface import Interface
from roost.tasks import Task, task
from roost.types import Directory, File


@dataclass(frozen=True)
class OutputLocation:
    """Where the script writes output ``var`` (a File or Directory): a format string over ``inputs``."""

    var: str
    var_type: type[File] | type[Directory]
    location: str | os.PathLike[str]


class _Namespace(dict[str, Any]):
    """Values by name that a format string reaches as attributes (``{inputs.x}``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class _Formatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, (File, Directory)):
            path: str = value.download()
            return path
        if isinstance(value, datetime.datetime):
            return value.isoformat()
        return str(super().format_field(value, format_spec))


class ShellTask(Task):
    """A task that runs ``script`` (or the file ``script_file``) with ``shell``."""

    def __init__(
        self,
        name: str,
        debug: bool = False,
        script: str | None = None,
        script_file: str | None = None,
        task_config: Any = None,
        shell: str = "/bin/sh",
        inputs: dict[str, Any] | None = None,
        output_locs: list[OutputLocation] | None = None,
        **options: Any,
    ) -> None:
        where = f"ShellTask {name!r}"
        if script and script_file:
            raise WorkflowDefinitionError(f"{where}: give script or script_file, not both")
        if not script and not script_file:
            raise WorkflowDefinitionError(f"{where}: give a script or a script_file")
        if script_file and not os.path.exists(script_file):
            raise WorkflowDefinitionError(f"{where}: script_file {script_file} does not exist")
        if task_config is not None:
            raise WorkflowDefinitionError(f"{where}: task_config is not supported for shell tasks")
        outputs: dict[str, Any] = {}
        for location in output_locs or []:
            if not isinstance(location, OutputLocation):
                raise WorkflowDefinitionError(
                    f"{where}: output_locs holds {location!r}, not an OutputLocation"
                )
            if not (isinstance(location.var_type, type) and issubclass(location.var_type, (File, Directory))):
                raise WorkflowDefinitionError(
                    f"{where}: output {location.var!r} must be a File or Directory, not {location.var_type!r}"
                )
            outputs[location.var] = location.var_type
        module = sys._getframe(1).f_globals.get("__name__", "__main__")
        if module == "__main__":
            from roost.loader import module_name_for_file

            module = module_name_for_file(sys._getframe(1).f_globals.get("__file__", "main"))[0]

        def shell_script() -> None:
            """A shell script."""

        made = cast("Task", task(shell_script, **options))
        super().__init__(f"{module}.{name}", Interface(dict(inputs or {}), {}, outputs), made.options)
        self.script = Path(script_file).read_text() if script_file else script or ""
        self.script_file = os.path.abspath(script_file) if script_file else None
        self.debug = debug
        self.shell = shell
        self.output_locs = list(output_locs or [])

    def execute(self, **inputs: Any) -> Any:
        """Interpolate the script, run it, and return the outputs found at their locations."""
        formatter = _Formatter()
        ctx = current_context()
        values = _Namespace(inputs)
        try:
            locations = {
                loc.var: formatter.format(str(loc.location), inputs=values, ctx=ctx)
                for loc in self.output_locs
            }
            script = formatter.format(self.script, inputs=values, outputs=_Namespace(locations), ctx=ctx)
        except (KeyError, AttributeError) as exc:
            raise ValueError(
                f"{self.label}: the script names {exc.args[0]!r}, which is not an input or output "
                f"(inputs: {', '.join(self.interface.inputs) or 'none'}; "
                f"outputs: {', '.join(self.interface.outputs) or 'none'})"
            ) from None
        if self.debug:
            print(f"{self.label} runs:\n{script}", flush=True)
        done = subprocess.run(
            script, shell=True, executable=self.shell, capture_output=True, text=True, check=False
        )
        sys.stdout.write(done.stdout)
        if done.returncode != 0:
            raise RecoverableError(
                f"the script exited with {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        results = [loc.var_type(locations[loc.var]) for loc in self.output_locs]
        return self.interface.pack_outputs(dict(zip(self.interface.outputs, results, strict=True)))

    def resolver_args(self) -> list[str]:
        """The module-level variable that holds this task (where ``roost-execute`` finds it), else its name."""
        module_name, _, name = self.name.rpartition(".")
        module = sys.modules.get(module_name)
        attribute = next((k for k, v in vars(module).items() if v is self), name) if module else name
        return ["--task-module", module_name, "--task-name", attribute]
