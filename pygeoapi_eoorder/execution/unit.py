"""What a runner executes: one execution unit of an application package.

The package model (`processes.packages`) is parsed and checked by the processes service;
runners receive only this plain description of what to run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ExecutionUnit:
    """How a process runs: a Docker image, or a CWL document run by cwltool."""

    kind: str                      # 'docker' or 'cwl'
    image: str | None = None
    cpus: float | None = None
    memory: str | None = None
    timeout: float | None = None
    cwl: str | None = None         # the CWL document text
    workflow: str | None = None    # the process to run inside a $graph

    @classmethod
    def from_dict(cls, data: dict) -> 'ExecutionUnit':
        return cls(**data)


def docker_requirements(node: Any):
    """Every DockerRequirement mapping of a CWL document (list or map form, anywhere)."""
    if isinstance(node, dict):
        if node.get('class') == 'DockerRequirement':
            yield node
        for key, value in node.items():
            if key == 'DockerRequirement' and isinstance(value, dict):
                yield value
            else:
                yield from docker_requirements(value)
    elif isinstance(node, list):
        for value in node:
            yield from docker_requirements(value)


def docker_images(document: dict) -> list[str]:
    """Every image a CWL document runs that must already be on the engine (images that a
    `dockerFile` builds are not listed)."""
    found = []
    for requirement in docker_requirements(document):
        image = requirement.get('dockerPull') or (
            None if 'dockerFile' in requirement else requirement.get('dockerImageId'))
        if isinstance(image, str):
            found.append(image)
    return sorted(set(found))
