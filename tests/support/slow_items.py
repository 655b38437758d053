"""An item processor that holds each item for a while, so that tests can see how many
items of an order run at once."""

from __future__ import annotations

import time

from pygeoapi_eoorder.ordering.processors import DefaultItemProcessor

HOLD_SECONDS = 0.6


class SlowItemProcessor(DefaultItemProcessor):
    def prepare(self, work) -> None:
        time.sleep(HOLD_SECONDS)
        super().prepare(work)
