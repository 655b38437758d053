"""A static STAC catalog served over HTTP on loopback (a source to register or harvest)."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.catalogue_stac import stac_item


class StaticCatalog:
    """`count` items (`stac_item`) in a self-contained catalog under `root`; `url` is its
    catalog.json, `item_url(i)` the document of item i."""

    def __init__(self, root: Path, count: int = 3):
        import pystac
        catalog = pystac.Catalog('ws-source', 'a catalog to register')
        self.items = [stac_item(index, 'source') for index in range(count)]
        for item in self.items:
            catalog.add_item(pystac.Item.from_dict(item))
        catalog.normalize_hrefs(str(root))
        catalog.save(pystac.CatalogType.SELF_CONTAINED)
        self.root = root
        handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f'http://127.0.0.1:{self.httpd.server_port}'
        self.url = f'{self.base}/catalog.json'

    def item_url(self, index: int) -> str:
        name = self.items[index]['id']
        return f'{self.base}/{name}/{name}.json'

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
