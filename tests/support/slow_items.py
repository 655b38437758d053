"""An item processor that holds each item for a while, so that tests can see how many
items of an order run at once."""

from __future__ import annotations

import time
from pathlib import Path

from pygeoapi_eoorder.ordering.processors import DefaultItemProcessor

HOLD_SECONDS = 0.6


class SlowItemProcessor(DefaultItemProcessor):
    def prepare(self, work) -> None:
        time.sleep(HOLD_SECONDS)
        super().prepare(work)


HOLD_FILE = 'hold-items'


class GatedItemProcessor(DefaultItemProcessor):
    """Holds each item while a file `hold-items` exists in the first allowed file root (at
    most a minute), so that a test can act on an order whose items are surely running."""

    def prepare(self, work) -> None:
        root = work.settings.block['execution']['stage_in']['allowed_file_roots'][0]
        gate = Path(root) / HOLD_FILE
        deadline = time.monotonic() + 60
        while gate.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        super().prepare(work)
