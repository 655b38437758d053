"""The `ordering:` block as objects: collections with their defaults filled in."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property

from ..config import SCHEMA, Settings, apply_defaults

_COLLECTION_SCHEMA = SCHEMA['properties']['ordering']['properties']['collections']['items'][
    'oneOf'][1]


@dataclass
class Collection:
    """One orderable collection and what it offers."""

    id: str
    conf: dict

    def __getattr__(self, name):
        try:
            return self.conf[name]
        except KeyError:
            raise AttributeError(name) from None

    @cached_property
    def option_names(self) -> dict[str, dict]:
        return {option['name']: option for option in self.conf['options']}


class OrderingSettings:
    """Access to `eoorder.ordering` with collections normalised."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.block = settings.block['ordering']
        self.collections: dict[str, Collection] = {}
        for entry in self.block['collections']:
            conf = {'id': entry} if isinstance(entry, str) else copy.deepcopy(entry)
            conf = apply_defaults(_COLLECTION_SCHEMA, conf)
            self.collections[conf['id']] = Collection(conf['id'], conf)

    def __getattr__(self, name):
        try:
            return self.block[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def data_dir(self):
        return self.settings.data_dir

    @property
    def downloads_dir(self):
        return self.settings.data_dir / 'orders'

    def collection_for(self, identifier: str | None, collection_id: str | None) -> Collection | None:
        """The collection of a product: named, else by identifier prefix, else the only one."""
        if collection_id:
            return self.collections.get(collection_id)
        if identifier:
            from .catalogue_lookup import collection_of
            found = collection_of(self.settings, identifier)
            if found in self.collections:
                return self.collections[found]
            for cid in sorted(self.collections, key=len, reverse=True):
                if identifier.startswith(cid):
                    return self.collections[cid]
        if len(self.collections) == 1:
            return next(iter(self.collections.values()))
        return None
