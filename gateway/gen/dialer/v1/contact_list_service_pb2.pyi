import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ContactList(_message.Message):
    __slots__ = ("name", "display_name", "description", "contact_count", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CONTACT_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    description: str
    contact_count: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., contact_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ColumnMap(_message.Message):
    __slots__ = ("phone", "id", "name", "timezone")
    PHONE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    phone: str
    id: str
    name: str
    timezone: str
    def __init__(self, phone: _Optional[str] = ..., id: _Optional[str] = ..., name: _Optional[str] = ..., timezone: _Optional[str] = ...) -> None: ...

class CreateContactListRequest(_message.Message):
    __slots__ = ("contact_list", "request_id")
    CONTACT_LIST_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    contact_list: ContactList
    request_id: str
    def __init__(self, contact_list: _Optional[_Union[ContactList, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateContactListResponse(_message.Message):
    __slots__ = ("contact_list",)
    CONTACT_LIST_FIELD_NUMBER: _ClassVar[int]
    contact_list: ContactList
    def __init__(self, contact_list: _Optional[_Union[ContactList, _Mapping]] = ...) -> None: ...

class ImportContactsRequest(_message.Message):
    __slots__ = ("name", "columns", "default_region", "request_id", "chunk")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_REGION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    name: str
    columns: ColumnMap
    default_region: str
    request_id: str
    chunk: bytes
    def __init__(self, name: _Optional[str] = ..., columns: _Optional[_Union[ColumnMap, _Mapping]] = ..., default_region: _Optional[str] = ..., request_id: _Optional[str] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class RejectedRow(_message.Message):
    __slots__ = ("row", "field", "reason")
    ROW_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    row: int
    field: str
    reason: str
    def __init__(self, row: _Optional[int] = ..., field: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ImportContactsResponse(_message.Message):
    __slots__ = ("contact_list", "rows", "accepted", "rejected")
    CONTACT_LIST_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    contact_list: ContactList
    rows: int
    accepted: int
    rejected: _containers.RepeatedCompositeFieldContainer[RejectedRow]
    def __init__(self, contact_list: _Optional[_Union[ContactList, _Mapping]] = ..., rows: _Optional[int] = ..., accepted: _Optional[int] = ..., rejected: _Optional[_Iterable[_Union[RejectedRow, _Mapping]]] = ...) -> None: ...

class GetContactListRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetContactListResponse(_message.Message):
    __slots__ = ("contact_list",)
    CONTACT_LIST_FIELD_NUMBER: _ClassVar[int]
    contact_list: ContactList
    def __init__(self, contact_list: _Optional[_Union[ContactList, _Mapping]] = ...) -> None: ...

class ListContactListsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListContactListsResponse(_message.Message):
    __slots__ = ("contact_lists", "next_page_token")
    CONTACT_LISTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    contact_lists: _containers.RepeatedCompositeFieldContainer[ContactList]
    next_page_token: str
    def __init__(self, contact_lists: _Optional[_Iterable[_Union[ContactList, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteContactListRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DeleteContactListResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
