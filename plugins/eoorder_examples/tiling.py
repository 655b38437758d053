"""An example job-engine process: splits a bounding box into tiles, reporting progress."""

import json

from pygeoapi.process.base import ProcessorExecuteError

from pygeoapi_eoorder.jobs import JobProcessor

METADATA = {
    'version': '1.0.0',
    'id': 'tiling',
    'title': 'Tile a bounding box',
    'description': 'Splits a bounding box into a grid of tiles and returns them as GeoJSON.',
    'jobControlOptions': ['sync-execute', 'async-execute'],
    'keywords': ['example'],
    'inputs': {
        'bbox': {'title': 'minx, miny, maxx, maxy', 'minOccurs': 1,
                 'schema': {'type': 'array', 'items': {'type': 'number'},
                            'minItems': 4, 'maxItems': 4}},
        'n': {'title': 'tiles per side', 'minOccurs': 0,
              'schema': {'type': 'integer', 'minimum': 1, 'maximum': 100}},
    },
    'outputs': {'tiles': {'title': 'tiles',
                          'schema': {'type': 'object', 'contentMediaType': 'application/json'}}},
}


class TilingProcess(JobProcessor):
    def __init__(self, processor_def):
        super().__init__(processor_def, METADATA)

    def execute(self, data, outputs=None):
        minx, miny, maxx, maxy = data['bbox']
        if minx >= maxx or miny >= maxy:
            raise ProcessorExecuteError(user_msg='bbox: min must be below max')
        n = int(data.get('n', 4))
        dx, dy = (maxx - minx) / n, (maxy - miny) / n
        features = []
        for row in range(n):
            for col in range(n):
                x0, y0 = minx + col * dx, miny + row * dy
                ring = [[x0, y0], [x0 + dx, y0], [x0 + dx, y0 + dy], [x0, y0 + dy], [x0, y0]]
                features.append({'type': 'Feature', 'id': f'{row}-{col}', 'properties': {},
                                 'geometry': {'type': 'Polygon', 'coordinates': [ring]}})
            self.report_progress(int(100 * (row + 1) / (n + 1)), f'row {row + 1} of {n}')
        collection = {'type': 'FeatureCollection', 'features': features}
        if self.context is not None:  # keep a copy in the job's work directory
            (self.context.workdir / 'tiles.geojson').write_text(json.dumps(collection))
        return 'application/json', {'id': 'tiles', 'value': collection}
