"""Process ids that the configuration names are the deployer's: users cannot take them.

Reserved: every configured process resource, and every process an order option runs
(`ordering.collections[].options[].process`). Only an admin may deploy or replace a
process under a reserved id; the order processor runs such a process only when it is
configured or deployed by an admin (`ADMIN_OWNED` in its definition), never a user's.
"""

from __future__ import annotations

from pygeoapi.process.base import BaseProcessor

from .catalogue import ProcessCatalogue
from .registry import process_id_of

ADMIN_OWNED = 'admin_owned'  # definition key: deployed by an admin (trusted for options)


def option_process_ids(block: dict) -> set[str]:
    """Process ids named by the order options of the `eoorder` block."""
    ids = set()
    for collection in (block.get('ordering') or {}).get('collections') or []:
        if isinstance(collection, dict):
            for option in collection.get('options') or []:
                if isinstance(option, dict) and option.get('process'):
                    ids.add(str(option['process']))
    return ids


def reserved_ids(catalogue: ProcessCatalogue, block: dict) -> set[str]:
    """Configured process ids and the processes of order options."""
    return set(catalogue.configured) | option_process_ids(block)


def is_reserved(catalogue: ProcessCatalogue, block: dict, process_id: str) -> bool:
    return process_id in reserved_ids(catalogue, block)


def trusted_definition(catalogue: ProcessCatalogue, process_id: str) -> dict | None:
    """The configured process, else the one an admin deployed under this id; None if
    there is neither (a user's process of that id is never trusted)."""
    if process_id in catalogue.configured:
        return catalogue.configured[process_id]
    found = catalogue.registry.all()
    public = found.get(process_id)  # before private ones, kept per owner
    for definition in [public] + [d for key, d in found.items() if key != process_id
                                  and process_id_of(key) == process_id]:
        if definition is not None and definition.get(ADMIN_OWNED):
            return definition
    return None


def trusted_processor(catalogue: ProcessCatalogue, process_id: str) -> BaseProcessor | None:
    """A processor of `trusted_definition`, or None."""
    definition = trusted_definition(catalogue, process_id)
    if definition is None:
        return None
    return catalogue.processor(process_id, definition)
