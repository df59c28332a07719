"""The SDK's own plugin: built-in image builders, registered like any outside plugin's."""

from __future__ import annotations

from roost.image import DockerfileBuilder
from roost.plugins.hookspecs import RegisterImageBuilder, hookimpl


@hookimpl
def roost_image_builders(register: RegisterImageBuilder) -> None:
    """The Dockerfile writer."""
    register("dockerfile", DockerfileBuilder())
