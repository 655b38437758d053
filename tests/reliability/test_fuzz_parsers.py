"""Property tests of the request and package parsers: on any input they return a value or
raise the module's own error type, nothing else.

  api/execute_request.parse     -> InvalidRequest
  api/job_query.parse           -> InvalidQuery
  processes/packages.parse_ogcapppkg, processes/cwl.parse_cwl_package,
  processes/owc.parse_owc_package -> PackageError
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from lxml import etree
from werkzeug.datastructures import MultiDict

from pygeoapi_eoorder.api import execute_request, job_query
from pygeoapi_eoorder.processes import cwl, owc, packages
from pygeoapi_eoorder.processes.parsing import UnsupportedPackage, parse_package
from pygeoapi_eoorder import xmlsafe

from ..support.processes import _metadata
from .fuzzing import mutate_bytes, mutate_tree, nasty_text

PACKAGES = Path(__file__).resolve().parents[1] / 'data' / 'packages'
FAST = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), nasty_text)
json_values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4),
    st.dictionaries(st.one_of(nasty_text, st.sampled_from(
        ['inputs', 'outputs', 'value', 'href', 'schema', 'minOccurs', 'maxOccurs', 'type',
         'image', 'config', 'memory', 'cpu', 'timeout', 'id', 'process', 'unit',
         'executionUnit', 'processDescription', 'successUri', 'response', 'steps'])),
        children, max_size=5)), max_leaves=20)

COUNTDOWN = _metadata('countdown', ['sync-execute', 'async-execute'])
PROCESS_SCHEMAS = st.one_of(st.just(COUNTDOWN), st.builds(
    lambda inputs, outputs: {'inputs': inputs, 'outputs': outputs},
    st.dictionaries(st.sampled_from(['a', 'b', 'steps']), st.fixed_dictionaries(
        {}, optional={'minOccurs': st.integers(0, 3),  # as check_process_description
                      'maxOccurs': st.one_of(st.integers(0, 3), st.just('unbounded')),
                      'schema': st.one_of(json_values, st.just({'type': 'array'}),
                                          st.just({'type': 'integer', 'minimum': 0}))})),
    st.dictionaries(st.sampled_from(['r', 'count']), json_values)))


# -- execute requests -------------------------------------------------------------------
def _execute_body():
    inputs = st.dictionaries(st.sampled_from(['steps', 'delay', 'fail', 'pid_file', 'zz']),
                             json_values, max_size=4)
    subscriber = st.one_of(json_values, st.fixed_dictionaries({}, optional={
        'successUri': st.one_of(nasty_text, st.just('http://127.0.0.1:1/x')),
        'inProgressUri': json_values, 'failedUri': json_values}))
    return st.fixed_dictionaries({}, optional={
        'inputs': st.one_of(inputs, json_values), 'outputs': json_values,
        'response': st.one_of(st.sampled_from(['raw', 'document']), json_values),
        'subscriber': subscriber})


def _dumps(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@FAST
@given(body=st.one_of(_execute_body().map(_dumps), st.binary(max_size=200)),
       process=PROCESS_SCHEMAS)
def test_execute_request_parser(body, process):
    try:
        parsed = execute_request.parse(body, process)
    except execute_request.InvalidRequest:
        return
    assert isinstance(parsed.inputs, dict)
    assert parsed.response in ('raw', 'document')


def test_execute_request_parser_refuses_deep_json():
    with pytest.raises(execute_request.InvalidRequest):
        execute_request.parse(b'{"inputs": {"steps": ' + b'[' * 5000 + b']' * 5000 + b'}}',
                              COUNTDOWN)


# -- job list queries -------------------------------------------------------------------
dates = st.datetimes(timezones=st.one_of(st.none(), st.timezones())).map(
    lambda d: d.isoformat())
query_values = st.one_of(nasty_text, dates, st.builds(lambda a, b: f'{a}/{b}', dates, dates),
                         st.builds(lambda a: f'{a}/..', dates), st.integers().map(str),
                         st.floats().map(str))


@FAST
@example(pairs=[('datetime', '0001-01-01T00:00:00+01:00')])  # found by review: overflow
@example(pairs=[('datetime', '9999-12-31T23:59:59-01:00/..')])
@example(pairs=[('maxDuration', 'nan')])
@given(pairs=st.lists(st.tuples(st.sampled_from(
    ['type', 'processID', 'status', 'datetime', 'minDuration', 'maxDuration', 'limit',
     'offset', 'f', 'other']), query_values), max_size=6))
def test_job_query_parser(pairs):
    try:
        query = job_query.parse(MultiDict(pairs))
    except job_query.InvalidQuery:
        return
    assert 1 <= query.limit <= 1000 and query.offset >= 0
    for value in (query.min_duration, query.max_duration):
        assert value is None or 0 <= value <= job_query.MAX_SECONDS


# -- application packages -----------------------------------------------------------------
def _ogcapppkg_seed() -> list[dict]:
    return [json.loads((PACKAGES / name).read_text()) for name in
            ('echo.ogcapppkg.json', 'echo.ogcapppkg-wrapped.json', 'landcover.ogcapppkg.json')]


def _json_mutations(value, data):
    """`value` with one member replaced by a drawn JSON value (walking a drawn path)."""
    if isinstance(value, dict) and value and data.draw(st.booleans(), label='descend'):
        key = data.draw(st.sampled_from(sorted(value)), label='key')
        return {**value, key: _json_mutations(value[key], data)}
    if isinstance(value, list) and value and data.draw(st.booleans(), label='descend'):
        index = data.draw(st.integers(0, len(value) - 1), label='index')
        return value[:index] + [_json_mutations(value[index], data)] + value[index + 1:]
    return data.draw(json_values, label='replacement')


def _no_network_loader(item, where):
    """cwl.unit_from_reference for inline CWL; an href is refused instead of fetched."""
    if 'value' not in item:
        raise packages.PackageError(f'{where}.href: (not fetched by the fuzzer)')
    return cwl.unit_from_reference(item, where)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_ogcapppkg_parser(data):
    seed = data.draw(st.sampled_from(_ogcapppkg_seed()), label='seed')
    mutated = seed
    for _ in range(data.draw(st.integers(1, 3), label='mutations')):
        mutated = _json_mutations(mutated, data)
    try:
        package = packages.parse_ogcapppkg(_dumps(mutated), cwl_loader=None)
    except packages.PackageError:
        return
    assert packages.ID_PATTERN.match(package.id) and package.process['outputs']
    for unit in package.units:
        for number in (unit.cpus, unit.timeout):
            assert number is None or math.isfinite(number) and number > 0, unit


CWL_SEEDS = [(PACKAGES / name).read_bytes() for name in ('echo.cwl', 'echo-workflow.cwl')]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_cwl_parser(data):
    """cwltool's loader is slow (~50 ms a document): fewer examples."""
    import yaml
    seed = yaml.safe_load(data.draw(st.sampled_from(CWL_SEEDS), label='seed'))
    mutated = _json_mutations(seed, data)
    raw = data.draw(st.sampled_from([_dumps(mutated), yaml.safe_dump(mutated).encode()]),
                    label='encoding')
    try:
        package = cwl.parse_cwl_package(raw, 'application/cwl+yaml',
                                        data.draw(st.sampled_from([None, 'main', 'echo']),
                                                  label='w'))
    except packages.PackageError:
        return
    assert package.units[0].kind == 'cwl'


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=300))
def test_cwl_parser_on_bytes(data):
    try:
        cwl.parse_cwl_package(data, 'application/cwl', None)
    except packages.PackageError:
        pass


OWC_SEEDS = [xmlsafe.parse((PACKAGES / name).read_bytes())
             for name in ('echo.tb13.xml', 'landcover.tb13.xml')]
OWC_NAMES = ['entry', 'offering', 'content', 'ProcessOffering', 'Process', 'Input', 'Output',
             'Identifier', 'Title', 'Abstract', 'LiteralData', 'ComplexData',
             'BoundingBoxData', 'LiteralDataDomain', 'DataType', 'AllowedValues', 'Value',
             'DefaultValue', 'MinimumValue', 'MaximumValue', 'Format', 'AnyValue']


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_owc_parser(data):
    tree = mutate_tree(data, data.draw(st.sampled_from(OWC_SEEDS), label='seed'), OWC_NAMES)
    if data.draw(st.booleans(), label='attributes'):
        for element in tree.iter():
            if isinstance(element.tag, str) and data.draw(st.integers(0, 9),
                                                          label='touch') == 0:
                name = data.draw(st.sampled_from(
                    ['minOccurs', 'maxOccurs', 'code', 'mimeType', 'jobControlOptions',
                     'processVersion', '{http://www.opengis.net/ows/2.0}reference']))
                element.set(name, data.draw(st.sampled_from(
                    ['', '-1', 'x', 'unbounded', '1e400', 'nan', '3', '\u00b2', 'async-execute',
                     'http://www.opengis.net/tb13/eoc/docker',
                     'http://www.opengis.net/tb13/eoc/wpsProcessOffering']), label='value'))
    try:
        package = owc.parse_owc_package(etree.tostring(tree))
    except packages.PackageError:
        return
    assert package.units[0].image


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_package_dispatch_on_corrupted_bytes(data):
    raw = (PACKAGES / data.draw(st.sampled_from(
        ['echo.ogcapppkg.json', 'echo.tb13.xml', 'landcover.tb13.xml']))).read_bytes()
    kind = data.draw(st.sampled_from(['application/ogcapppkg+json', 'application/json',
                                      'application/atom+xml', 'text/xml', 'image/png', None]))
    try:
        parse_package(mutate_bytes(data, raw), kind)
    except (packages.PackageError, UnsupportedPackage):
        pass
