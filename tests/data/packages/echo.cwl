# CWL v1.2 CommandLineTool for the eoorder-test echo application.
# The app reads its inputs from WPS_INPUT_<id> and writes each output to the path in
# WPS_OUTPUT_<id> (the ADES's container contract); EnvVarRequirement maps CWL onto it.
cwlVersion: v1.2
class: CommandLineTool
id: echo
label: Echo
doc: Writes the message it is given to the output file `result`.
$namespaces:
  s: https://schema.org/
  iana: https://www.iana.org/assignments/media-types/
s:softwareVersion: 1.0.0
requirements:
  DockerRequirement:
    dockerPull: eoorder-test/echo:1.0
  EnvVarRequirement:
    envDef:
      WPS_INPUT_message: $(inputs.message)
      WPS_OUTPUT_result: $(runtime.outdir)/result
  ResourceRequirement:
    coresMax: 1
    ramMax: 256
baseCommand: /app/run
inputs:
  message:
    type: string
    label: Message
    doc: The text to echo.
outputs:
  result:
    type: File
    label: Result
    doc: A text file holding the message.
    format: iana:text/plain
    outputBinding:
      glob: result
