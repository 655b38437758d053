"""The Testbed-13 ADES transactions through WPS (OGC 17-024).

The built-in DeployProcess/UndeployProcess processes appear with the ER's outputs
`deployResult`/`undeployResult`: XML holding wps:DeploymentDone (wps:UndeploymentDone) and the
deployed process's wps:ProcessSummary. The WPS-T `DeployProcess` operation (a
ProcessOffering and a DeploymentProfile with a Docker execution unit) is turned into the
Testbed-13 application package (an OWS Context entry) and deployed by the same built-in
process, as a job of its caller: one deployment path, one set of rules."""

from __future__ import annotations

from lxml import etree

from .errors import WpsError
from .xmlns import OWS2, W2, WPS2, XLINK, O2, q

XML_TYPE = 'text/xml'
OUTPUTS = {'DeployProcess': ('DeployResult', 'deployResult'),
           'UndeployProcess': ('UndeployResult', 'undeployResult')}
ATOM = 'http://www.w3.org/2005/Atom'
OWC = 'http://www.opengis.net/owc/1.0'
DOCKER_CODE = 'http://www.opengis.net/tb13/eoc/docker'
WPS_CODE = 'http://www.opengis.net/tb13/eoc/wpsProcessOffering'


def wps_view(process: dict) -> dict:
    """The description WPS clients see: the ER's output name, given as XML."""
    names = OUTPUTS.get(process.get('id'))
    if names is None:
        return process
    internal, public = names
    spec = dict((process.get('outputs') or {}).get(internal) or {})
    spec['schema'] = {'type': 'string', 'contentMediaType': XML_TYPE}
    return {**process, 'outputs': {public: spec}}


def internal_outputs(process_id: str, requested: dict | None) -> dict | None:
    """Requested outputs under the names the built-in process uses."""
    names = OUTPUTS.get(process_id)
    if names is None or not requested:
        return requested
    return {names[0] if name == names[1] else name: spec for name, spec in requested.items()}


def public_name(process_id: str, name: str) -> str:
    names = OUTPUTS.get(process_id)
    return names[1] if names and name == names[0] else name


def _summary(summary: dict) -> etree._Element:
    controls = [c for c in summary.get('jobControlOptions') or ['sync-execute', 'async-execute']
                if c in ('sync-execute', 'async-execute', 'dismiss')] or ['async-execute']
    parts = [O2.Title(summary.get('title') or summary['id'])]
    if summary.get('description'):
        parts.append(O2.Abstract(summary['description']))
    parts.append(O2.Identifier(summary['id']))
    attributes = {'jobControlOptions': ' '.join(controls),
                  'outputTransmission': ' '.join(summary.get('outputTransmission')
                                                 or ['value', 'reference'])}
    if summary.get('version'):
        attributes['processVersion'] = str(summary['version'])
    return W2.ProcessSummary(*parts, **attributes)


def result_document(process_id: str, value) -> etree._Element | None:
    """The XML result of a transaction job (None for other processes)."""
    if not isinstance(value, dict):
        return None
    if process_id == 'DeployProcess' and 'deploymentDone' in value:
        parts = [W2.DeploymentDone(str(bool(value['deploymentDone'])).lower())]
        if isinstance(value.get('processSummary'), dict):
            parts.append(_summary(value['processSummary']))
        return W2.DeployResult(*parts)
    if process_id == 'UndeployProcess' and 'undeploymentDone' in value:
        return W2.UndeployResult(W2.UndeploymentDone(str(bool(value['undeploymentDone']))
                                                     .lower()),
                                 O2.Identifier(str(value.get('identifier', ''))))
    return None


# -- the WPS-T DeployProcess operation -------------------------------------------------
def _docker_image(profile: etree._Element) -> str:
    unit = next((e for e in profile.iter() if isinstance(e.tag, str)
                 and etree.QName(e).localname == 'ExecutionUnit'), None)
    if unit is None:
        raise WpsError('MissingParameterValue', 'wps:DeploymentProfile has no '
                       'wps:ExecutionUnit', 'ExecutionUnit')
    for element in unit.iter():
        if not isinstance(element.tag, str):
            continue
        link = element.get(q(XLINK, 'href')) or element.get('href')
        if link:
            return link.removeprefix('docker://').removeprefix('docker:')
    text = ''.join(unit.itertext()).strip()
    if not text:
        raise WpsError('MissingParameterValue', 'wps:ExecutionUnit names no Docker image',
                       'ExecutionUnit')
    return text.removeprefix('docker://').removeprefix('docker:')


def application_package(request: etree._Element) -> str:
    """The Testbed-13 OWS Context entry of a WPS-T DeployProcess request."""
    offering = request.find(q(WPS2, 'ProcessOffering'))
    profile = request.find(q(WPS2, 'DeploymentProfile'))
    if offering is None or offering.find(q(WPS2, 'Process')) is None:
        raise WpsError('MissingParameterValue', 'wps:ProcessOffering with a wps:Process is '
                       'required', 'ProcessOffering')
    if profile is None:
        raise WpsError('MissingParameterValue', 'wps:DeploymentProfile is required',
                       'DeploymentProfile')
    image = _docker_image(profile)
    identifier = offering.findtext(f'{{{WPS2}}}Process/{{{OWS2}}}Identifier') or ''
    entry = etree.Element(q(ATOM, 'entry'), nsmap={None: ATOM, 'owc': OWC})
    etree.SubElement(entry, q(ATOM, 'id')).text = f'urn:wps-t:process:{identifier.strip()}'
    etree.SubElement(entry, q(ATOM, 'title')).text = identifier.strip()
    docker = etree.SubElement(entry, q(OWC, 'offering'), code=DOCKER_CODE)
    etree.SubElement(docker, q(OWC, 'content'), type='text/plain').text = image
    wps = etree.SubElement(entry, q(OWC, 'offering'), code=WPS_CODE)
    content = etree.SubElement(wps, q(OWC, 'content'), type='application/xml')
    offerings = etree.SubElement(content, q(WPS2, 'ProcessOfferings'))
    offerings.append(_copy(offering))
    return etree.tostring(entry, encoding='unicode')


def _copy(element: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(element))


def undeploy_identifier(request: etree._Element) -> str:
    identifier = (request.findtext(q(OWS2, 'Identifier')) or '').strip()
    if not identifier:
        raise WpsError('MissingParameterValue', 'ows:Identifier of the process to undeploy '
                       'is required', 'Identifier')
    return identifier
