"""A task that resumes from its checkpoint, run by the roost-execute tests."""

from roost import current_context, task


@task
def resume(x: int) -> str:
    """What the previous attempt checkpointed (or "nothing"), then checkpoint x."""
    checkpoint = current_context().checkpoint
    previous = checkpoint.read()
    checkpoint.write(str(x).encode())
    return previous.decode() if previous is not None else "nothing"
