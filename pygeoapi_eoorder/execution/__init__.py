"""The execution layer: containers (Docker, CWL via cwltool), staging in and out."""

from .errors import ExecutionError

__all__ = ['ExecutionError']
