"""ContactListService and DncListService."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator

import grpc
import msgpack

from cluster.errors import InvalidArgument
from gateway import convert
from gateway.gen.dialer.v1 import contact_list_service_pb2 as pb
from gateway.gen.dialer.v1 import contact_list_service_pb2_grpc as pb_grpc
from gateway.gen.dialer.v1 import dnc_list_service_pb2 as dnc_pb
from gateway.gen.dialer.v1 import dnc_list_service_pb2_grpc as dnc_grpc
from gateway.idempotency import fingerprint
from gateway.paging import page
from gateway.services.base import Gateway

MAX_NUMBERS_PER_CALL = 100_000
_OUTPUT_ONLY = "name, the count and create_time are output only"


class ContactListService(pb_grpc.ContactListServiceServicer):
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.lists = gw.state.lists

    def _id(self, name: str) -> str:
        return convert.parse_name(name, convert.CONTACT_LISTS)

    def CreateContactList(
        self, request: pb.CreateContactListRequest, context: grpc.ServicerContext
    ) -> pb.CreateContactListResponse:
        def create() -> pb.CreateContactListResponse:
            spec = request.contact_list
            if spec.name or spec.contact_count or spec.HasField("create_time"):
                raise InvalidArgument([("contact_list", _OUTPUT_ONLY)])
            with convert.request_paths("contact_list", convert.list_paths):
                info = self.lists.create(spec.display_name, spec.description)
            return pb.CreateContactListResponse(contact_list=convert.contact_list_to_proto(info))

        return self.gw.idem.run("CreateContactList", request, pb.CreateContactListResponse, create)

    def ImportContacts(
        self, request_iterator: Iterator[pb.ImportContactsRequest], context: grpc.ServicerContext
    ) -> pb.ImportContactsResponse:
        first = next(request_iterator, None)
        if first is None or not first.name:
            raise InvalidArgument([("name", "the first message must name the list")])
        list_id = self._id(first.name)
        content = hashlib.sha256()

        def chunks() -> Iterator[bytes]:
            for message in itertools.chain([first], request_iterator):
                content.update(message.chunk)
                yield message.chunk

        def run_import() -> pb.ImportContactsResponse:
            report = self.lists.import_csv(
                list_id,
                chunks(),
                convert.column_map(first.columns),
                first.default_region or None,
            )
            return convert.import_report_to_proto(report, self.lists.get(list_id))

        if not first.request_id:
            return run_import()
        # The stream's content is only known at its end: the claim holds the first message's
        # fingerprint, the stored response the content's digest beside the response.
        header = pb.ImportContactsRequest()
        header.CopyFrom(first)
        header.ClearField("chunk")
        idem, method = self.gw.idem, "ImportContacts"
        fp = fingerprint(header)
        done = idem.claim(method, first.request_id, fp)
        if done is not None:
            digest, response = msgpack.unpackb(done)
            for _ in chunks():
                pass
            if content.digest() != digest:
                raise InvalidArgument([("request_id", "already used for a different import")])
            return pb.ImportContactsResponse.FromString(response)
        try:
            result = run_import()
        except BaseException:
            idem.release(method, first.request_id)
            raise
        stored = msgpack.packb([content.digest(), result.SerializeToString()])
        idem.complete(method, first.request_id, fp, stored)
        return result

    def GetContactList(
        self, request: pb.GetContactListRequest, context: grpc.ServicerContext
    ) -> pb.GetContactListResponse:
        info = self.lists.get(self._id(request.name))
        return pb.GetContactListResponse(contact_list=convert.contact_list_to_proto(info))

    def ListContactLists(
        self, request: pb.ListContactListsRequest, context: grpc.ServicerContext
    ) -> pb.ListContactListsResponse:
        items, token = page(self.lists.all(), lambda i: i.id, request.page_size, request.page_token)
        return pb.ListContactListsResponse(
            contact_lists=[convert.contact_list_to_proto(i) for i in items],
            next_page_token=token,
        )

    def DeleteContactList(
        self, request: pb.DeleteContactListRequest, context: grpc.ServicerContext
    ) -> pb.DeleteContactListResponse:
        def delete() -> pb.DeleteContactListResponse:
            self.gw.state.delete_contact_list(self._id(request.name))
            return pb.DeleteContactListResponse()

        return self.gw.idem.run("DeleteContactList", request, pb.DeleteContactListResponse, delete)


def _check_count(numbers: object) -> None:
    if len(numbers) > MAX_NUMBERS_PER_CALL:  # type: ignore[arg-type]
        raise InvalidArgument(
            [("phone_numbers", f"at most {MAX_NUMBERS_PER_CALL} numbers per call")]
        )


class DncListService(dnc_grpc.DncListServiceServicer):
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.dnc = gw.state.dnc

    def _id(self, name: str) -> str:
        return convert.parse_name(name, convert.DNC_LISTS)

    def CreateDncList(
        self, request: dnc_pb.CreateDncListRequest, context: grpc.ServicerContext
    ) -> dnc_pb.CreateDncListResponse:
        def create() -> dnc_pb.CreateDncListResponse:
            spec = request.dnc_list
            if spec.name or spec.number_count or spec.HasField("create_time"):
                raise InvalidArgument([("dnc_list", _OUTPUT_ONLY)])
            with convert.request_paths("dnc_list", convert.list_paths):
                info = self.dnc.create(spec.display_name, spec.description)
            return dnc_pb.CreateDncListResponse(dnc_list=convert.dnc_list_to_proto(info))

        return self.gw.idem.run("CreateDncList", request, dnc_pb.CreateDncListResponse, create)

    def AddDncNumbers(
        self, request: dnc_pb.AddDncNumbersRequest, context: grpc.ServicerContext
    ) -> dnc_pb.AddDncNumbersResponse:
        def add() -> dnc_pb.AddDncNumbersResponse:
            _check_count(request.phone_numbers)
            result = self.dnc.add(self._id(request.name), list(request.phone_numbers))
            return convert.dnc_add_to_proto(result)

        return self.gw.idem.run("AddDncNumbers", request, dnc_pb.AddDncNumbersResponse, add)

    def RemoveDncNumbers(
        self, request: dnc_pb.RemoveDncNumbersRequest, context: grpc.ServicerContext
    ) -> dnc_pb.RemoveDncNumbersResponse:
        def remove() -> dnc_pb.RemoveDncNumbersResponse:
            _check_count(request.phone_numbers)
            removed = self.dnc.remove(self._id(request.name), list(request.phone_numbers))
            return dnc_pb.RemoveDncNumbersResponse(removed=removed)

        return self.gw.idem.run(
            "RemoveDncNumbers", request, dnc_pb.RemoveDncNumbersResponse, remove
        )

    def CheckDncNumbers(
        self, request: dnc_pb.CheckDncNumbersRequest, context: grpc.ServicerContext
    ) -> dnc_pb.CheckDncNumbersResponse:
        _check_count(request.phone_numbers)
        checks = self.dnc.check(self._id(request.name), list(request.phone_numbers))
        return convert.dnc_checks_to_proto(checks)

    def GetDncList(
        self, request: dnc_pb.GetDncListRequest, context: grpc.ServicerContext
    ) -> dnc_pb.GetDncListResponse:
        info = self.dnc.get(self._id(request.name))
        return dnc_pb.GetDncListResponse(dnc_list=convert.dnc_list_to_proto(info))

    def ListDncLists(
        self, request: dnc_pb.ListDncListsRequest, context: grpc.ServicerContext
    ) -> dnc_pb.ListDncListsResponse:
        items, token = page(self.dnc.all(), lambda i: i.id, request.page_size, request.page_token)
        return dnc_pb.ListDncListsResponse(
            dnc_lists=[convert.dnc_list_to_proto(i) for i in items], next_page_token=token
        )

    def DeleteDncList(
        self, request: dnc_pb.DeleteDncListRequest, context: grpc.ServicerContext
    ) -> dnc_pb.DeleteDncListResponse:
        def delete() -> dnc_pb.DeleteDncListResponse:
            self.gw.state.delete_dnc_list(self._id(request.name))
            return dnc_pb.DeleteDncListResponse()

        return self.gw.idem.run("DeleteDncList", request, dnc_pb.DeleteDncListResponse, delete)
