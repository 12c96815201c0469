"""Domain errors. The gRPC layer maps each class to one status code."""

from __future__ import annotations


class DialerError(Exception):
    """Base of every error a caller is meant to see."""


class NotFound(DialerError):
    def __init__(self, kind: str, resource_id: str) -> None:
        super().__init__(f"{kind} {resource_id!r} not found")
        self.kind = kind
        self.resource_id = resource_id


class AlreadyExists(DialerError):
    def __init__(self, kind: str, field: str, value: str) -> None:
        super().__init__(f"a {kind} with {field} {value!r} already exists")
        self.kind = kind
        self.field = field
        self.value = value


class InvalidArgument(DialerError):
    """Bad input; `violations` holds (field, description) pairs."""

    def __init__(self, violations: list[tuple[str, str]]) -> None:
        text = "; ".join(f"{field}: {why}" for field, why in violations)
        super().__init__(f"invalid argument: {text}")
        self.violations = violations


class FailedPrecondition(DialerError):
    """The request is well formed but the current state refuses it."""
