"""Calls between optional components, by dotted name: `package.module:function`.

A component (ordering, catalogue) may be left out of an installation; a hook into an
absent one is skipped, and a failing hook is logged without failing its caller.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging


def present(module_name: str) -> bool:
    """Is this module (and its package) installed?"""
    return bool(importlib.util.find_spec(module_name.rsplit('.', 1)[0])
                and importlib.util.find_spec(module_name))


def call_all(hooks, *args, logger: logging.Logger) -> None:
    """Call every present hook with `args`; log (never raise) what fails."""
    for hook in hooks:
        module_name, _, function = hook.partition(':')
        if not present(module_name):
            continue
        try:
            getattr(importlib.import_module(module_name), function)(*args)
        except Exception:  # a hook must never break its caller
            logger.exception('%s failed', hook)
