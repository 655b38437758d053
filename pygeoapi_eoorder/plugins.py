"""Plug-ins named by dotted path in the configuration, turned into objects.

The one place where a name from the YAML (`package.module.Class` or
`package.module:function`) becomes a Python object. The component registry
(`components.py`) resolves every plug-in of the `eoorder:` block through it.
"""

from __future__ import annotations

import importlib
from typing import Any


class PluginError(ValueError):
    """A plug-in name that cannot be resolved, described in one line."""


def resolve(dotted: str, what: str = 'plug-in') -> Any:
    """The object `dotted` names: `package.module.Name` or `package.module:name`."""
    if not isinstance(dotted, str):
        raise PluginError(f'{what} {dotted!r}: give a dotted path package.module.Name')
    module_name, sep, attribute = dotted.partition(':')
    if not sep:
        module_name, _, attribute = dotted.rpartition('.')
    if not module_name or not attribute:
        raise PluginError(f'{what} {dotted!r}: give a dotted path package.module.Name')
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise PluginError(f'{what} {dotted!r}: module {module_name} cannot be imported '
                          f'({err})') from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise PluginError(f'{what} {dotted!r}: module {module_name} has no '
                          f'{attribute}') from None
