"""Typed errors raised by handlers; the API maps each to its HTTP status once."""


class SkyforgeError(Exception):
    status = 500
    title = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Invalid(SkyforgeError):
    status = 422
    title = "Invalid input"


class NotFound(SkyforgeError):
    status = 404
    title = "Not found"


class Conflict(SkyforgeError):
    status = 409
    title = "Conflict"


class PreconditionFailed(SkyforgeError):
    """The caller's If-Match names a version that is no longer the current one."""

    status = 412
    title = "Precondition failed"


class Unauthorized(SkyforgeError):
    status = 401
    title = "Unauthorized"


class Forbidden(SkyforgeError):
    status = 403
    title = "Forbidden"


class TooManyRequests(SkyforgeError):
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: float = 1.0) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class BadGateway(SkyforgeError):
    """A system SkyForge depends on (an identity provider, ...) failed."""

    status = 502
    title = "Bad gateway"


class StepFailed(SkyforgeError):
    """A build, release phase or rollout step failed; the detail is shown to the user."""

    status = 500
    title = "Step failed"
