"""The built-in execution runners by unit kind (the component registry's default)."""

from __future__ import annotations

from ..config import Settings
from .cwl_runner import CwlRunner
from .docker_app import DockerAppRunner
from .runner import ExecutionRunner

BUILTIN: dict[str, type[ExecutionRunner]] = {DockerAppRunner.kind: DockerAppRunner,
                                              CwlRunner.kind: CwlRunner}


def build(settings: Settings) -> dict[str, ExecutionRunner]:
    """One runner of each built-in kind for `settings`."""
    return {kind: cls(settings) for kind, cls in BUILTIN.items()}
