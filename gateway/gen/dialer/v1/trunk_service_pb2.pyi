from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Trunk(_message.Message):
    __slots__ = ("name", "channels", "cps", "draining", "driver", "live_calls")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    CPS_FIELD_NUMBER: _ClassVar[int]
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    LIVE_CALLS_FIELD_NUMBER: _ClassVar[int]
    name: str
    channels: int
    cps: float
    draining: bool
    driver: str
    live_calls: int
    def __init__(self, name: _Optional[str] = ..., channels: _Optional[int] = ..., cps: _Optional[float] = ..., draining: _Optional[bool] = ..., driver: _Optional[str] = ..., live_calls: _Optional[int] = ...) -> None: ...

class RegisterTrunkRequest(_message.Message):
    __slots__ = ("trunk", "request_id")
    TRUNK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    trunk: Trunk
    request_id: str
    def __init__(self, trunk: _Optional[_Union[Trunk, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RegisterTrunkResponse(_message.Message):
    __slots__ = ("trunk",)
    TRUNK_FIELD_NUMBER: _ClassVar[int]
    trunk: Trunk
    def __init__(self, trunk: _Optional[_Union[Trunk, _Mapping]] = ...) -> None: ...

class ListTrunksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTrunksResponse(_message.Message):
    __slots__ = ("trunks",)
    TRUNKS_FIELD_NUMBER: _ClassVar[int]
    trunks: _containers.RepeatedCompositeFieldContainer[Trunk]
    def __init__(self, trunks: _Optional[_Iterable[_Union[Trunk, _Mapping]]] = ...) -> None: ...

class ScaleTrunkRequest(_message.Message):
    __slots__ = ("name", "channels", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    channels: int
    request_id: str
    def __init__(self, name: _Optional[str] = ..., channels: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class ScaleTrunkResponse(_message.Message):
    __slots__ = ("trunk",)
    TRUNK_FIELD_NUMBER: _ClassVar[int]
    trunk: Trunk
    def __init__(self, trunk: _Optional[_Union[Trunk, _Mapping]] = ...) -> None: ...

class DrainTrunkRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DrainTrunkResponse(_message.Message):
    __slots__ = ("trunk",)
    TRUNK_FIELD_NUMBER: _ClassVar[int]
    trunk: Trunk
    def __init__(self, trunk: _Optional[_Union[Trunk, _Mapping]] = ...) -> None: ...

class RemoveTrunkRequest(_message.Message):
    __slots__ = ("name", "force", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    force: bool
    request_id: str
    def __init__(self, name: _Optional[str] = ..., force: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class RemoveTrunkResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
