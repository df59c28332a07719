"""``roost-copilot``: moves a raw container's data in a pod, as Flyte's copilot (``flyte-copilot``) does.

    roost-copilot download --inputs URI --output-prefix PREFIX --to-local-dir DIR [--format JSON]
    roost-copilot upload --output-prefix PREFIX --raw-output-prefix PREFIX --from-local-dir DIR \\
        --interface BASE64 [--wait-for-sigterm] [--timeout SECONDS]

The Pod handler runs ``download`` as an init container that fills the input volume, and ``upload`` as a
native sidecar (an init container with ``restartPolicy: Always``) that waits for the SIGTERM Kubernetes
sends its sidecars once the primary container exited, then reads the output volume into ``outputs.pb``.
What they cannot do is written as ``error.pb`` under the output prefix (``InputDownloadFailed``,
``OutputUploadFailed``), which the handler reports; a failed download also exits 1, so the primary
container never starts. Storage settings come from the environment, as for ``roost-execute``
(``ROOST_S3_ENDPOINT`` and the usual AWS variables).
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click
from flyteidl.core import literals_pb2, tasks_pb2

from roost_core.copilot import (
    DataLoadingError,
    decode_interface,
    download_inputs,
    upload_outputs,
    write_error_document,
)
from roost_core.errors import ErrorKind
from roost_core.storage import StorageError

__all__ = ["main"]

_FORMATS = tasks_pb2.DataLoadingConfig.LiteralMapFormat


@click.group()
def main() -> None:
    """Move a raw container's inputs and outputs between blob storage and local folders."""


@main.command()
@click.option("--inputs", "inputs_uri", required=True, help="URI of the task's inputs.pb.")
@click.option("--output-prefix", required=True, help="Where error.pb goes if the download fails.")
@click.option("--to-local-dir", required=True, type=click.Path(path_type=Path), help="The input folder.")
@click.option(
    "--format",
    "metadata_format",
    default="JSON",
    type=click.Choice(list(_FORMATS.keys())),
    help="The metadata file written next to inputs.pb: inputs.json, inputs.yaml, or none (PROTO).",
)
def download(inputs_uri: str, output_prefix: str, to_local_dir: Path, metadata_format: str) -> None:
    """Write the task's inputs as files into the input folder."""
    from roost.execute import storage_from_environment

    storage = storage_from_environment()
    try:
        try:
            inputs = storage.read_proto(inputs_uri, literals_pb2.LiteralMap)
        except StorageError as exc:
            raise DataLoadingError(
                "InputDownloadFailed", f"cannot read the inputs: {exc}", ErrorKind.SYSTEM
            ) from None
        download_inputs(storage, inputs, to_local_dir, format=_FORMATS.Value(metadata_format))
    except DataLoadingError as exc:
        click.echo(f"roost-copilot: {exc}", err=True)
        write_error_document(storage, output_prefix, exc)
        sys.exit(1)
    click.echo(f"roost-copilot: wrote {len(inputs.literals)} input(s) into {to_local_dir}")


@main.command()
@click.option("--output-prefix", required=True, help="Where outputs.pb (or error.pb) goes.")
@click.option("--raw-output-prefix", required=True, help="Where output files and folders are uploaded.")
@click.option("--from-local-dir", required=True, type=click.Path(path_type=Path), help="The output folder.")
@click.option("--interface", "interface_text", required=True, help="The task's TypedInterface, base64.")
@click.option("--wait-for-sigterm", is_flag=True, help="Upload only after a SIGTERM (as a pod's sidecar).")
@click.option("--timeout", default=3600, type=click.IntRange(min=1), help="Longest upload, in seconds.")
def upload(
    output_prefix: str,
    raw_output_prefix: str,
    from_local_dir: Path,
    interface_text: str,
    wait_for_sigterm: bool,
    timeout: int,
) -> None:
    """Read the output folder into outputs.pb (or error.pb saying what is missing)."""
    from roost.execute import storage_from_environment

    if wait_for_sigterm:
        _wait_for_sigterm()
    storage = storage_from_environment()
    previous = signal.signal(signal.SIGALRM, _upload_timed_out)
    signal.alarm(timeout)
    try:
        interface = decode_interface(interface_text)
        if not interface.outputs.variables:
            click.echo("roost-copilot: the task has no outputs")
            return
        literals = upload_outputs(
            storage,
            interface.outputs,
            from_local_dir,
            output_prefix=output_prefix,
            raw_output_prefix=raw_output_prefix,
        )
        click.echo(f"roost-copilot: uploaded {len(literals.literals)} output(s) from {from_local_dir}")
    except _UploadTimeout:
        timed_out = DataLoadingError(
            "OutputUploadFailed", f"the outputs were not uploaded within {timeout} s", ErrorKind.SYSTEM
        )
        click.echo(f"roost-copilot: {timed_out}", err=True)
        write_error_document(storage, output_prefix, timed_out)
    except DataLoadingError as exc:
        click.echo(f"roost-copilot: {exc}", err=True)
        write_error_document(storage, output_prefix, exc)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class _UploadTimeout(Exception):
    """The upload ran past ``--timeout``."""


def _upload_timed_out(signum: int, frame: FrameType | None) -> None:
    raise _UploadTimeout


def _wait_for_sigterm() -> None:
    """Block until SIGTERM: Kubernetes sends it to sidecars once the primary container exited."""
    received = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        received.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    click.echo("roost-copilot: waiting for the primary container to exit (SIGTERM)")
    while not received.wait(1.0):
        pass


if __name__ == "__main__":
    main()
