"""Why an execution failed, in words a client can act on."""

from pygeoapi.process.base import ProcessorExecuteError


class ExecutionError(ProcessorExecuteError):
    """A failed execution; its message is shown as the job's message."""

    def __init__(self, message: str):
        super().__init__(user_msg=message)
