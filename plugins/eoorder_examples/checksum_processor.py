"""An example OSEO item processor: delivers the product with a SHA-256 checksum file.

    eoorder:
      ordering:
        collections:
          - id: my-collection
            enclosure: https://data.example.org/{identifier}.tif
            processor: eoorder_examples.checksum_processor.ChecksumProcessor
"""

import hashlib

from pygeoapi_eoorder.ordering.processors import DefaultItemProcessor, ItemWork


class ChecksumProcessor(DefaultItemProcessor):
    """Fetches the product like the default processor, then adds `<name>.sha256`."""

    def process(self, work: ItemWork) -> None:
        super().process(work)
        extra = []
        for path in work.files:
            if path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                checksum = path.with_name(path.name + '.sha256')
                checksum.write_text(f'{digest}  {path.name}\n')
                extra.append(checksum)
        work.files.extend(extra)
        work.log.info('checksums written for %s', work.item_id)
