"""The one exception the grid's calls raise."""

import grpc


class GridError(Exception):
    """A call the grid answered with an error status.

    `code` is the gRPC status (a `grpc.StatusCode`, e.g. `grpc.StatusCode.NOT_FOUND`) and `message` the grid's own
    words naming what is wrong (docs/api.md lists which call returns which status).
    """

    def __init__(self, code, message):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message

    @classmethod
    def from_rpc(cls, error):
        """The GridError for a failed gRPC call (a `grpc.RpcError` that is also a `grpc.Call`)."""
        return cls(error.code(), error.details() or "")

    @classmethod
    def from_name(cls, name, message):
        """The GridError for a status given by name, as PredictBatch reports each asset's error."""
        code = getattr(grpc.StatusCode, name, grpc.StatusCode.UNKNOWN)
        return cls(code, message)
