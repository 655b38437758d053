# CWL v1.2 CommandLineTool for the eoorder-test landcover application (a stand-in for the
# OGC Testbed-13 land-cover classification). Inputs go to the app as WPS_INPUT_<id>, and
# WPS_OUTPUT_<id> names where it writes each output (a file, or a directory for `stac`).
cwlVersion: v1.2
class: CommandLineTool
id: landcover
label: Land-cover classification
doc: >-
  Classifies a staged-in image over an area of interest and writes the classification
  (CSV) and a STAC 1.0.0 catalog holding one item whose asset is that classification.
$namespaces:
  s: https://schema.org/
  iana: https://www.iana.org/assignments/media-types/
s:softwareVersion: 1.0.0
requirements:
  DockerRequirement:
    dockerPull: eoorder-test/landcover:1.0
  EnvVarRequirement:
    envDef:
      WPS_INPUT_source: $(inputs.source.path)
      WPS_INPUT_aoi: $(inputs.aoi)
      WPS_INPUT_epsg: $(inputs.epsg)
      WPS_INPUT_resolution: $(inputs.resolution)
      WPS_OUTPUT_classification: $(runtime.outdir)/classification
      WPS_OUTPUT_stac: $(runtime.outdir)/stac
  ResourceRequirement:
    coresMax: 1
    ramMax: 512
baseCommand: /app/run
inputs:
  source:
    type: File
    label: Source image
    doc: The image to classify (any bytes; the test app reads its size and checksum).
  aoi:
    type: string
    label: Area of interest
    doc: 'Bounding box "minx,miny,maxx,maxy" in WGS84 longitude/latitude.'
  # epsg and resolution are strings because an EnvVarRequirement value must evaluate to a
  # string, and converting a number would need InlineJavascriptRequirement.
  epsg:
    type: string
    default: "4326"
    label: EPSG code
    doc: EPSG code (digits only) of the output coordinate reference system.
  resolution:
    type: string
    default: "10"
    label: Target resolution
    doc: Target resolution in metres, a number > 0.
outputs:
  classification:
    type: File
    label: Classification
    doc: CSV with the classified pixel counts and the parameters used.
    format: iana:text/csv
    outputBinding:
      glob: classification
  stac:
    type: Directory
    label: STAC catalog
    doc: Directory holding catalog.json, a STAC 1.0.0 catalog of the result.
    outputBinding:
      glob: stac
