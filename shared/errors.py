"""Errors the rules raise when a request cannot be done.

Plain exceptions: a handler knows nothing of HTTP.  shared/web.py maps each
kind to its status; the command line prints its message.
"""


class DomainError(Exception):
    """A request the rules refuse; ``details`` say where (``field``, ``rows``...)."""

    code = "bad_request"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, **self.details}


class InvalidInput(DomainError):
    """``fields`` maps each bad field to its problems; ``rows`` lists bad lines of a file."""

    code = "invalid_input"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """Not possible in the current state (a launched rollout, a full session...)."""

    code = "conflict"


class Forbidden(DomainError):
    code = "forbidden"


class Unavailable(DomainError):
    """Something the request needs (a database, another service) did not answer."""

    code = "unavailable"
