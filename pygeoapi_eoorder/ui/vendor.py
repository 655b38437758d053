"""Third-party browser assets, served by the server itself from their PyPI packages (no CDN:
the HTML pages work offline).

    /ui/vendor/bootstrap/...   Bootstrap 5 (css/, js/) from Bootstrap-Flask's static files
    /ui/vendor/leaflet/...     Leaflet (leaflet.js, leaflet.css, images/) from XStatic-Leaflet
    /ui/vendor/swagger-ui/...  Swagger UI (the OpenAPI viewer) from swagger-ui-bundle
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


def _bootstrap() -> Path:
    import flask_bootstrap
    static = Path(flask_bootstrap.__file__).parent / 'static'
    return static / flask_bootstrap.Bootstrap5.static_folder


def _leaflet() -> Path:
    from xstatic.pkg import leaflet
    return Path(leaflet.BASE_DIR)


def _swagger_ui() -> Path:
    import swagger_ui_bundle
    return Path(swagger_ui_bundle.swagger_ui_path)


LIBRARIES = {'bootstrap': _bootstrap, 'leaflet': _leaflet, 'swagger-ui': _swagger_ui}


@lru_cache(maxsize=None)
def folder(library: str) -> Path | None:
    """The directory holding `library`'s files, or None for an unknown library."""
    find = LIBRARIES.get(library)
    return find() if find else None
