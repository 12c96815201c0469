import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AgentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_STATE_UNSPECIFIED: _ClassVar[AgentState]
    AGENT_STATE_OFFLINE: _ClassVar[AgentState]
    AGENT_STATE_AVAILABLE: _ClassVar[AgentState]
    AGENT_STATE_RESERVED: _ClassVar[AgentState]
    AGENT_STATE_ON_CALL: _ClassVar[AgentState]
    AGENT_STATE_WRAP_UP: _ClassVar[AgentState]
    AGENT_STATE_NOT_READY: _ClassVar[AgentState]

class AssignmentEvent(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSIGNMENT_EVENT_UNSPECIFIED: _ClassVar[AssignmentEvent]
    ASSIGNMENT_EVENT_CONNECTED: _ClassVar[AssignmentEvent]
    ASSIGNMENT_EVENT_ENDED: _ClassVar[AssignmentEvent]
    ASSIGNMENT_EVENT_OFFERED: _ClassVar[AssignmentEvent]
    ASSIGNMENT_EVENT_OFFER_EXPIRED: _ClassVar[AssignmentEvent]
    ASSIGNMENT_EVENT_OFFER_FAILED: _ClassVar[AssignmentEvent]
AGENT_STATE_UNSPECIFIED: AgentState
AGENT_STATE_OFFLINE: AgentState
AGENT_STATE_AVAILABLE: AgentState
AGENT_STATE_RESERVED: AgentState
AGENT_STATE_ON_CALL: AgentState
AGENT_STATE_WRAP_UP: AgentState
AGENT_STATE_NOT_READY: AgentState
ASSIGNMENT_EVENT_UNSPECIFIED: AssignmentEvent
ASSIGNMENT_EVENT_CONNECTED: AssignmentEvent
ASSIGNMENT_EVENT_ENDED: AssignmentEvent
ASSIGNMENT_EVENT_OFFERED: AssignmentEvent
ASSIGNMENT_EVENT_OFFER_EXPIRED: AssignmentEvent
ASSIGNMENT_EVENT_OFFER_FAILED: AssignmentEvent

class Agent(_message.Message):
    __slots__ = ("name", "state", "state_time", "call_id", "campaign", "offer_expire_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    OFFER_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: AgentState
    state_time: _timestamp_pb2.Timestamp
    call_id: str
    campaign: str
    offer_expire_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[AgentState, str]] = ..., state_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., call_id: _Optional[str] = ..., campaign: _Optional[str] = ..., offer_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LoginAgentRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class LoginAgentResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class SetAgentStateRequest(_message.Message):
    __slots__ = ("name", "state", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: AgentState
    request_id: str
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[AgentState, str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class SetAgentStateResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class LogoutAgentRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class LogoutAgentResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class SubmitDispositionRequest(_message.Message):
    __slots__ = ("name", "code", "callback_time", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    code: str
    callback_time: _timestamp_pb2.Timestamp
    request_id: str
    def __init__(self, name: _Optional[str] = ..., code: _Optional[str] = ..., callback_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class SubmitDispositionResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class AcceptPreviewOfferRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class AcceptPreviewOfferResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class SkipPreviewOfferRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SkipPreviewOfferResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ("parent",)
    PARENT_FIELD_NUMBER: _ClassVar[int]
    parent: str
    def __init__(self, parent: _Optional[str] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents",)
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[Agent]
    def __init__(self, agents: _Optional[_Iterable[_Union[Agent, _Mapping]]] = ...) -> None: ...

class WatchAssignmentsRequest(_message.Message):
    __slots__ = ("name", "after_event_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    after_event_id: str
    def __init__(self, name: _Optional[str] = ..., after_event_id: _Optional[str] = ...) -> None: ...

class Contact(_message.Message):
    __slots__ = ("id", "phone_number", "display_name", "timezone", "fields")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    phone_number: str
    display_name: str
    timezone: str
    fields: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., phone_number: _Optional[str] = ..., display_name: _Optional[str] = ..., timezone: _Optional[str] = ..., fields: _Optional[_Mapping[str, str]] = ...) -> None: ...

class WatchAssignmentsResponse(_message.Message):
    __slots__ = ("event_id", "event", "call_id", "campaign", "contact", "event_time", "expire_time")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event: AssignmentEvent
    call_id: str
    campaign: str
    contact: Contact
    event_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., event: _Optional[_Union[AssignmentEvent, str]] = ..., call_id: _Optional[str] = ..., campaign: _Optional[str] = ..., contact: _Optional[_Union[Contact, _Mapping]] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
