"""An item processor that delivers each product with a checksum sidecar (two files per
item), so that a test can stop a delivery between its uploads."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pygeoapi_eoorder.ordering.processors import DefaultItemProcessor


class SidecarItemProcessor(DefaultItemProcessor):
    def deliver(self, work, target: Path) -> list[Path]:
        delivered = super().deliver(work, target)
        product = delivered[0]
        sidecar = product.with_name(product.name + '.sha256')
        sidecar.write_text(hashlib.sha256(product.read_bytes()).hexdigest() + '\n')
        return [*delivered, sidecar]
