"""The one job engine: SQL store, queue and worker processes behind a pygeoapi manager."""

from ..execution.context import JobContext, JobProcessor
from .manager import Manager

__all__ = ['Manager', 'JobContext', 'JobProcessor']
