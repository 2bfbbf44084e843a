"""The one domain error type: services raise it, views and the API translate it."""

from __future__ import annotations


class ApplicationError(Exception):
    """A business rule refused the request; `code` is stable, `message` is for people."""

    status = 400

    def __init__(self, message: str, *, code: str = "invalid", fields: dict | None = None, status: int | None = None):
        super().__init__(message)
        self.message = str(message)
        self.code = code
        self.fields = fields or {}
        if status is not None:
            self.status = status


class NotFound(ApplicationError):
    status = 404

    def __init__(self, message: str = "Not found.", *, code: str = "not_found", fields: dict | None = None):
        super().__init__(message, code=code, fields=fields)


class Conflict(ApplicationError):
    status = 409

    def __init__(self, message: str, *, code: str = "conflict", fields: dict | None = None):
        super().__init__(message, code=code, fields=fields)
