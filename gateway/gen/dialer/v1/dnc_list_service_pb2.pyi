import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DncList(_message.Message):
    __slots__ = ("name", "display_name", "description", "number_count", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NUMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    description: str
    number_count: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., number_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateDncListRequest(_message.Message):
    __slots__ = ("dnc_list", "request_id")
    DNC_LIST_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    dnc_list: DncList
    request_id: str
    def __init__(self, dnc_list: _Optional[_Union[DncList, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateDncListResponse(_message.Message):
    __slots__ = ("dnc_list",)
    DNC_LIST_FIELD_NUMBER: _ClassVar[int]
    dnc_list: DncList
    def __init__(self, dnc_list: _Optional[_Union[DncList, _Mapping]] = ...) -> None: ...

class AddDncNumbersRequest(_message.Message):
    __slots__ = ("name", "phone_numbers", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    phone_numbers: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    def __init__(self, name: _Optional[str] = ..., phone_numbers: _Optional[_Iterable[str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RejectedNumber(_message.Message):
    __slots__ = ("phone_number", "reason")
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    phone_number: str
    reason: str
    def __init__(self, phone_number: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AddDncNumbersResponse(_message.Message):
    __slots__ = ("added", "already_listed", "rejected")
    ADDED_FIELD_NUMBER: _ClassVar[int]
    ALREADY_LISTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    added: int
    already_listed: int
    rejected: _containers.RepeatedCompositeFieldContainer[RejectedNumber]
    def __init__(self, added: _Optional[int] = ..., already_listed: _Optional[int] = ..., rejected: _Optional[_Iterable[_Union[RejectedNumber, _Mapping]]] = ...) -> None: ...

class RemoveDncNumbersRequest(_message.Message):
    __slots__ = ("name", "phone_numbers", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    phone_numbers: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    def __init__(self, name: _Optional[str] = ..., phone_numbers: _Optional[_Iterable[str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RemoveDncNumbersResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: int
    def __init__(self, removed: _Optional[int] = ...) -> None: ...

class CheckDncNumbersRequest(_message.Message):
    __slots__ = ("name", "phone_numbers")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    phone_numbers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., phone_numbers: _Optional[_Iterable[str]] = ...) -> None: ...

class NumberCheck(_message.Message):
    __slots__ = ("phone_number", "e164", "listed")
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    E164_FIELD_NUMBER: _ClassVar[int]
    LISTED_FIELD_NUMBER: _ClassVar[int]
    phone_number: str
    e164: str
    listed: bool
    def __init__(self, phone_number: _Optional[str] = ..., e164: _Optional[str] = ..., listed: _Optional[bool] = ...) -> None: ...

class CheckDncNumbersResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[NumberCheck]
    def __init__(self, results: _Optional[_Iterable[_Union[NumberCheck, _Mapping]]] = ...) -> None: ...

class GetDncListRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetDncListResponse(_message.Message):
    __slots__ = ("dnc_list",)
    DNC_LIST_FIELD_NUMBER: _ClassVar[int]
    dnc_list: DncList
    def __init__(self, dnc_list: _Optional[_Union[DncList, _Mapping]] = ...) -> None: ...

class ListDncListsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDncListsResponse(_message.Message):
    __slots__ = ("dnc_lists", "next_page_token")
    DNC_LISTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dnc_lists: _containers.RepeatedCompositeFieldContainer[DncList]
    next_page_token: str
    def __init__(self, dnc_lists: _Optional[_Iterable[_Union[DncList, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteDncListRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DeleteDncListResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
