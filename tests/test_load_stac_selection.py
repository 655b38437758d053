"""Which STAC items `load_stac` keeps: footprints (geometry, 2D and 3D bbox), times
(instants, intervals, open and exclusive ends) and property conditions (the conditions of
`load_collection`, tested on the items' own properties; an item without the property
meets none of them). Expectations written out by hand."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pygeoapi_eoorder.datacube.errors import GraphError
from pygeoapi_eoorder.datacube.load import by_date
from pygeoapi_eoorder.datacube.load_stac import _during, _overlaps, _span
from pygeoapi_eoorder.datacube.properties import matcher

BOX = [10.0, 40.0, 11.0, 41.0]


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.mark.parametrize('item, kept', [
    ({'geometry': {'type': 'Point', 'coordinates': [10.5, 40.5]}}, True),
    ({'geometry': {'type': 'Point', 'coordinates': [12.0, 40.5]}}, False),
    ({'bbox': [10.9, 40.9, 12.0, 42.0]}, True),
    ({'bbox': [11.5, 40.0, 12.0, 41.0]}, False),
    ({'bbox': [10.2, 40.2, -5.0, 10.4, 40.4, 5.0]}, True),  # 3D: [w, s, low, e, n, high]
    ({'bbox': [12.0, 40.2, -5.0, 13.0, 40.4, 5.0]}, False),
    ({'bbox': 'nonsense'}, False),
    ({}, True),  # no footprint: nothing to tell it by
])
def test_footprints(item, kept):
    assert _overlaps(item, BOX) is kept
    assert _overlaps(item, None) is True


@pytest.mark.parametrize('properties, start, end, kept', [
    ({'datetime': '2024-06-05T10:00:00Z'}, utc(2024, 6, 1), utc(2024, 6, 10), True),
    ({'datetime': '2024-06-10T00:00:00Z'}, utc(2024, 6, 1), utc(2024, 6, 10), False),  # end
    ({'datetime': '2024-06-01T00:00:00Z'}, utc(2024, 6, 1), utc(2024, 6, 10), True),  # start
    ({'datetime': '2024-06-05T10:00:00Z'}, None, utc(2024, 6, 5), False),
    ({'datetime': '2024-06-05T10:00:00Z'}, utc(2024, 6, 5), None, True),
    ({'datetime': None, 'start_datetime': '2024-05-20T00:00:00Z',
      'end_datetime': '2024-06-02T00:00:00Z'}, utc(2024, 6, 1), utc(2024, 6, 10), True),
    ({'datetime': None, 'start_datetime': '2024-05-20T00:00:00Z',
      'end_datetime': '2024-05-31T00:00:00Z'}, utc(2024, 6, 1), utc(2024, 6, 10), False),
    ({'datetime': None, 'start_datetime': '2024-06-10T00:00:00Z',
      'end_datetime': '2024-06-20T00:00:00Z'}, utc(2024, 6, 1), utc(2024, 6, 10), False),
])
def test_times(properties, start, end, kept):
    assert _during(_span({'properties': properties}), start, end) is kept


def condition(process_id: str, **arguments) -> dict:
    return {'process_graph': {'c': {'process_id': process_id, 'arguments': {
        'x': {'from_parameter': 'value'}, **arguments}, 'result': True}}}


def kept(properties: dict, items: list[dict]) -> list[bool]:
    test = matcher(properties)
    return [test({'properties': p}) for p in items]


def test_comparisons_on_the_items_own_properties():
    items = [{'eo:cloud_cover': 10}, {'eo:cloud_cover': 60}, {}, {'eo:cloud_cover': 'x'}]
    assert kept({'eo:cloud_cover': condition('lt', y=50)}, items) == \
        [True, False, False, False]
    # the catalogue's name of a property stands for its STAC name
    assert kept({'cloudCover': condition('between', min=50, max=70)}, items) == \
        [False, True, False, False]
    # neq: an item without the property meets no condition, as in the catalogue
    assert kept({'eo:cloud_cover': condition('neq', y=10)}, items) == \
        [False, True, False, True]


def test_strings_lists_and_combinations():
    items = [{'platform': 'Sentinel-2A', 'instruments': ['msi']},
             {'platform': 'sentinel-2b', 'instruments': ['msi', 'x']},
             {'platform': 'landsat-8', 'instruments': ['oli']}]
    assert kept({'platform': condition('eq', y='SENTINEL-2A', case_sensitive=False)},
                items) == [True, False, False]
    assert kept({'instruments': condition('eq', y='msi')}, items) == [True, True, False]
    either = {'process_graph': {
        'a': {'process_id': 'eq', 'arguments': {'x': {'from_parameter': 'value'},
                                                'y': 'landsat-8'}},
        'b': {'process_id': 'eq', 'arguments': {'x': {'from_parameter': 'value'},
                                                'y': 'sentinel-2b'}},
        'or': {'process_id': 'or', 'arguments': {'x': {'from_node': 'a'},
                                                 'y': {'from_node': 'b'}}, 'result': True}}}
    assert kept({'platform': either}, items) == [False, True, True]
    assert kept({'platform': either, 'instruments': condition('eq', y='oli')}, items) == \
        [False, False, True]


def test_conditions_this_back_end_cannot_test_are_refused():
    with pytest.raises(GraphError) as refused:
        matcher({'eo:cloud_cover': condition('sin')})
    assert refused.value.code == 'ProcessParameterInvalid'
    assert str(refused.value).startswith('load_stac: properties.eo:cloud_cover: ')
    assert matcher(None) is None and matcher({}) is None


def test_assets_of_their_own_dates_are_items_of_their_own():
    item = {'id': 'job', 'properties': {'datetime': '2024-07-01T00:00:00Z'}, 'assets': {
        'a.tif': {'href': 'a.tif', 'datetime': '2024-06-05T00:00:00Z'},
        'b.tif': {'href': 'b.tif', 'datetime': '2024-06-15T00:00:00Z'},
        'b.json': {'href': 'b.json', 'datetime': '2024-06-15T00:00:00Z'},
        'c.json': {'href': 'c.json'}}}
    assert by_date(item) == [
        {'id': 'job/2024-06-05T00:00:00Z', 'properties': {'datetime': '2024-06-05T00:00:00Z'},
         'assets': {'data': item['assets']['a.tif']}},
        {'id': 'job/2024-06-15T00:00:00Z', 'properties': {'datetime': '2024-06-15T00:00:00Z'},
         'assets': {'data': item['assets']['b.json'], 'data_1': item['assets']['b.tif']}}]
    single = {**item, 'assets': {'a.tif': item['assets']['a.tif']}}
    assert by_date(single) == [single]
