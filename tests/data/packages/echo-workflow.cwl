# A CWL v1.2 $graph document: the Workflow `#main` (the process an ADES deploys) runs the
# CommandLineTool `#echo`, as in the OGC Best Practice for EO Application Packages.
cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
  iana: https://www.iana.org/assignments/media-types/
s:softwareVersion: 1.0.0
$graph:
  - class: Workflow
    id: main
    label: Echo workflow
    doc: Runs the echo tool once and returns its result.
    inputs:
      message:
        type: string
        label: Message
        doc: The text to echo.
    outputs:
      result:
        type: File
        label: Result
        outputSource: echo_step/result
    steps:
      echo_step:
        run: "#echo"
        in:
          message: message
        out: [result]

  - class: CommandLineTool
    id: echo
    label: Echo
    requirements:
      DockerRequirement:
        dockerPull: eoorder-test/echo:1.0
      EnvVarRequirement:
        envDef:
          WPS_INPUT_message: $(inputs.message)
          WPS_OUTPUT_result: $(runtime.outdir)/result
    baseCommand: /app/run
    inputs:
      message:
        type: string
    outputs:
      result:
        type: File
        format: iana:text/plain
        outputBinding:
          glob: result
