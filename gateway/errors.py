"""Every error a client sees is made here: domain errors become gRPC statuses with rich details
(google.rpc.Status in the trailers, via grpcio-status); anything unexpected becomes INTERNAL
with a reference to the server log, never UNKNOWN with a traceback."""

from __future__ import annotations

import logging
import uuid

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from cluster.errors import AlreadyExists, DialerError, FailedPrecondition, InvalidArgument, NotFound
from cluster.lifecycle import EditNotAllowed, LifecycleError, ScheduledCampaignError

log = logging.getLogger(__name__)

DOMAIN = "dialer.v1"


class Unauthenticated(DialerError):
    pass


class PermissionDenied(DialerError):
    pass


class Aborted(DialerError):
    """A concurrent call holds the resource (e.g. the same request_id still in progress)."""


class Unavailable(DialerError):
    """The server is shutting down or a backend is unreachable; the client may retry."""


def _pack(*details: object) -> list[any_pb2.Any]:
    out = []
    for detail in details:
        packed = any_pb2.Any()
        packed.Pack(detail)
        out.append(packed)
    return out


def _status(code: int, message: str, *details: object) -> grpc.Status:
    return rpc_status.to_status(
        status_pb2.Status(code=code, message=message, details=_pack(*details))
    )


def _error_info(reason: str, **metadata: str) -> error_details_pb2.ErrorInfo:
    return error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata)


def to_status(exc: BaseException) -> grpc.Status:
    """The status for an exception raised while serving a call."""
    match exc:
        case InvalidArgument():
            bad = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=why)
                    for f, why in exc.violations
                ]
            )
            return _status(code_pb2.INVALID_ARGUMENT, str(exc), bad)
        case NotFound():
            info = error_details_pb2.ResourceInfo(
                resource_type=exc.kind, resource_name=exc.resource_id, description=str(exc)
            )
            return _status(code_pb2.NOT_FOUND, str(exc), info)
        case AlreadyExists():
            info = error_details_pb2.ResourceInfo(
                resource_type=exc.kind, resource_name=exc.value, description=str(exc)
            )
            return _status(code_pb2.ALREADY_EXISTS, str(exc), info)
        case EditNotAllowed():
            failure = error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(
                        type="EDIT_NOT_ALLOWED",
                        subject=f,
                        description=f"not editable while {exc.status}",
                    )
                    for f in exc.fields
                ]
            )
            info = _error_info("EDIT_NOT_ALLOWED", status=str(exc.status))
            return _status(code_pb2.FAILED_PRECONDITION, str(exc), info, failure)
        case ScheduledCampaignError():
            info = _error_info("CAMPAIGN_SCHEDULED", status=str(exc.status), action=str(exc.action))
            return _status(code_pb2.FAILED_PRECONDITION, str(exc), info)
        case LifecycleError():
            info = _error_info("ILLEGAL_TRANSITION", status=str(exc.status), action=str(exc.action))
            return _status(code_pb2.FAILED_PRECONDITION, str(exc), info)
        case FailedPrecondition():
            return _status(code_pb2.FAILED_PRECONDITION, str(exc), _error_info("PRECONDITION"))
        case Unauthenticated():
            return _status(code_pb2.UNAUTHENTICATED, str(exc))
        case PermissionDenied():
            return _status(code_pb2.PERMISSION_DENIED, str(exc))
        case Aborted():
            return _status(code_pb2.ABORTED, str(exc))
        case Unavailable():
            return _status(code_pb2.UNAVAILABLE, str(exc))
    ref = uuid.uuid4().hex[:12]
    log.error("internal error (ref %s)", ref, exc_info=exc)
    return _status(code_pb2.INTERNAL, f"internal error (ref {ref}; details in the server log)")
