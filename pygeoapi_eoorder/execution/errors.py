"""Why an execution failed, in words a client can act on."""

from pygeoapi.process.base import ProcessorExecuteError


class ExecutionError(ProcessorExecuteError):
    """A failed execution; its message is shown as the job's message."""

    def __init__(self, message: str):
        super().__init__(user_msg=message)


class InputRefused(ExecutionError):
    """An input the job cannot use as given (e.g. a name that would leave the job
    directory): the job fails with HTTP status 400, the client's input being at fault."""

    ogc_exception_code = 'InvalidParameterValue'
    http_status_code = 400
