"""STAC API (v1.0.0) adapter over the SQL catalogue: Core, Collections, Features, Item
Search with the Filter, Sort, Fields and Transaction extensions, under `<prefix>/stac`."""

from .routes import install, openapi_paths, pygeoapi_views

__all__ = ['install', 'openapi_paths', 'pygeoapi_views']
