"""Processes named and shaped like the ones of the OGC WPS 1.0.0 and 2.0 example requests
(Buffer, Reclassification, intersection, union, Viewshed, Planar-Buffer), so that the
examples run: each returns a small XML document naming the inputs it got."""

from __future__ import annotations

from xml.sax.saxutils import escape

from pygeoapi_eoorder.jobs import JobProcessor

XML = 'text/xml'


def _complex(media: str = XML, minimum: int = 1) -> dict:
    return {'title': 'complex', 'minOccurs': minimum,
            'schema': {'type': 'string', 'contentMediaType': media}}


def _number(minimum: int = 1) -> dict:
    return {'title': 'number', 'minOccurs': minimum, 'schema': {'type': 'number'}}


DESCRIPTIONS = {
    'Buffer': ({'InputPolygon': _complex(), 'BufferDistance': _number(0),
                'BufferZoneWidth': _complex(minimum=0)}, {'BufferedPolygon': _complex()}),
    'Reclassification': ({'InputLayer': _complex('image/tiff'),
                          'BufferDistance': _complex()}, {'Outlayer': _complex()}),
    'intersection': ({'a': _complex(), 'b': _complex()}, {'result': _complex()}),
    'union': ({'a': _complex(), 'b': _complex()}, {'result': _complex()}),
    'Viewshed': ({'dem': _complex('image/tiff')}, {'viewshed': _complex()}),
    'http://my.wps.server/processes/proximity/Planar-Buffer': (
        {'INPUT_GEOMETRY': _complex(), 'DISTANCE': _number(0)},
        {'BUFFERED_GEOMETRY': _complex()}),
}


class ExampleProcess(JobProcessor):
    """One of DESCRIPTIONS (`processor.example`), sync and async."""

    def __init__(self, processor_def):
        pid = processor_def['example']
        inputs, outputs = DESCRIPTIONS[pid]
        super().__init__(processor_def, {
            # multilingual, as pygeoapi allows: WPS documents carry the English text
            'version': '1.0.0', 'id': pid, 'title': {'en': pid, 'fr': f'{pid} (fr)'},
            'description': {'en': f'{pid} (example)', 'fr': f'{pid} (exemple)'},
            'jobControlOptions': ['sync-execute', 'async-execute', 'dismiss'],
            'keywords': ['example'], 'inputs': inputs, 'outputs': outputs})

    def execute(self, data, outputs=None):
        names = ''.join(f'<input name="{escape(k)}"/>' for k in sorted(data))
        output = next(iter(self.metadata['outputs']))
        return XML, f'<{output}>{names}</{output}>'


def resources() -> dict:
    return {pid: {'type': 'process', 'processor': {
        'name': 'tests.support.wps_processes.ExampleProcess', 'example': pid}}
        for pid in DESCRIPTIONS}
