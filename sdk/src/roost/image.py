"""``ImageSpec``: describe a task's container image in Python; its tag is derived from its content."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

DEFAULT_BASE_IMAGE = "python:3.11-slim"


@dataclass(frozen=True)
class ImageSpec:
    """A container image: a base image plus pip and apt packages, environment, and optionally a source folder.

    ``image_name()`` is ``[registry/]name:tag`` with a tag computed from everything that goes into the image
    (the source folder's files included), so a change anywhere gives a new tag and an unchanged spec reuses
    the image that was built.
    """

    name: str = "roost-task"
    base_image: str = DEFAULT_BASE_IMAGE
    packages: Sequence[str] = ()
    apt_packages: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    registry: str = ""
    source_root: str | None = None
    python_version: str = "3.11"
    builder: str = "dockerfile"

    def content(self) -> dict[str, object]:
        """Everything the tag is computed from."""
        return {
            "base_image": self.base_image,
            "packages": sorted(self.packages),
            "apt_packages": sorted(self.apt_packages),
            "env": dict(sorted(self.env.items())),
            "python_version": self.python_version,
            "source": _folder_digest(Path(self.source_root)) if self.source_root else "",
        }

    def tag(self) -> str:
        """A short hash of :meth:`content`."""
        data = json.dumps(self.content(), sort_keys=True).encode()
        return hashlib.sha256(data).hexdigest()[:16]

    def image_name(self) -> str:
        """``[registry/]name:tag``."""
        prefix = f"{self.registry.rstrip('/')}/" if self.registry else ""
        return f"{prefix}{self.name}:{self.tag()}"

    def dockerfile(self) -> str:
        """A Dockerfile that builds this image (with roost installed, so ``roost-execute`` is there)."""
        lines = [f"FROM {self.base_image}"]
        if self.apt_packages:
            packages = " ".join(sorted(self.apt_packages))
            lines.append(
                "RUN apt-get update && apt-get install -y --no-install-recommends "
                f"{packages} && rm -rf /var/lib/apt/lists/*"
            )
        pip = ["roost", *sorted(self.packages)]
        lines.append("RUN pip install --no-cache-dir " + " ".join(shlex.quote(p) for p in pip))
        lines += [f"ENV {key}={json.dumps(value)}" for key, value in sorted(self.env.items())]
        if self.source_root:
            lines += ["WORKDIR /root", "COPY . /root", "ENV PYTHONPATH=/root"]
        return "\n".join(lines) + "\n"


class ImageBuilder(Protocol):
    """Builds an ImageSpec (a plugin registers one with ``roost_image_builders``)."""

    def build(self, spec: ImageSpec) -> str:
        """Build (and push, if the builder does) the image; return a line saying what was done."""
        ...


class DockerfileBuilder:
    """The built-in builder: writes the Dockerfile next to the source (no container engine needed)."""

    def build(self, spec: ImageSpec) -> str:
        """Write ``Dockerfile.roost`` into the source folder (or the current one)."""
        folder = Path(spec.source_root or os.getcwd())
        path = folder / "Dockerfile.roost"
        path.write_text(spec.dockerfile())
        return f"wrote {path}; build it with: docker build -f {path} -t {spec.image_name()} {folder}"


def _folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    if not folder.is_dir():
        raise FileNotFoundError(f"ImageSpec source_root {str(folder)!r} is not a folder")
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
