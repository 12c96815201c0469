"""Who may call what: bearer tokens mapped to roles, and the minimum role of every method.

Tokens come from a YAML or JSON file (DIALER_AUTH_FILE):

    tokens:
      - {token: "s3cret-admin", role: admin}
      - {token: "desk-ann", role: agent, agent_id: ann}

or from DIALER_AUTH_TOKENS="token:role[:agent_id],...". Roles are ordered
viewer < agent < supervisor < admin: viewers only read; agents also act as their own agent
(the agent id is checked by the agent servicer); supervisors run campaigns and manage lists;
admins also manage trunks. Health checking and reflection are open.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import yaml

from gateway.errors import PermissionDenied, Unauthenticated


class Role(IntEnum):
    VIEWER = 1
    AGENT = 2
    SUPERVISOR = 3
    ADMIN = 4

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown role {name!r}: one of viewer, agent, supervisor, admin"
            ) from None


@dataclass(frozen=True)
class Principal:
    role: Role
    agent_id: str = ""
    """For the agent role: the one agent this token may act as."""
    label: str = ""

    def may_act_as_agent(self, agent_id: str) -> bool:
        if self.role is Role.AGENT:
            return bool(self.agent_id) and self.agent_id == agent_id
        return self.role >= Role.SUPERVISOR


_V1 = "/dialer.v1."
_READ = Role.VIEWER
_AGENT = Role.AGENT
_WRITE = Role.SUPERVISOR
_ADMIN = Role.ADMIN

# Full method name -> the least role allowed to call it. A method missing here is refused
# (a test checks that every method of every service is listed).
METHOD_ROLES: dict[str, Role] = {
    **{
        f"{_V1}CampaignService/{m}": _READ
        for m in ("GetCampaign", "ListCampaigns", "GetCampaignProgress", "WatchCampaign")
    },
    **{
        f"{_V1}CampaignService/{m}": _WRITE
        for m in (
            "CreateCampaign",
            "UpdateCampaign",
            "DeleteCampaign",
            "CloneCampaign",
            "RunCampaign",
            "PauseCampaign",
            "ResumeCampaign",
            "StopCampaign",
            "RerunCampaign",
        )
    },
    **{f"{_V1}ContactListService/{m}": _READ for m in ("GetContactList", "ListContactLists")},
    **{
        f"{_V1}ContactListService/{m}": _WRITE
        for m in ("CreateContactList", "ImportContacts", "DeleteContactList")
    },
    **{
        f"{_V1}DncListService/{m}": _READ for m in ("GetDncList", "ListDncLists", "CheckDncNumbers")
    },
    **{
        f"{_V1}DncListService/{m}": _WRITE
        for m in ("CreateDncList", "AddDncNumbers", "RemoveDncNumbers", "DeleteDncList")
    },
    f"{_V1}AgentService/ListAgents": _READ,
    **{
        f"{_V1}AgentService/{m}": _AGENT
        for m in (
            "LoginAgent",
            "SetAgentState",
            "LogoutAgent",
            "SubmitDisposition",
            "WatchAssignments",
            "AcceptPreviewOffer",
            "SkipPreviewOffer",
        )
    },
    f"{_V1}TrunkService/ListTrunks": _READ,
    **{
        f"{_V1}TrunkService/{m}": _ADMIN
        for m in ("RegisterTrunk", "ScaleTrunk", "DrainTrunk", "RemoveTrunk")
    },
}

OPEN_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")
"""Services anyone may call (load balancers and grpcurl-style tools)."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenTable:
    """Tokens are kept only as SHA-256 digests."""

    def __init__(self, principals: Mapping[str, Principal] | None = None) -> None:
        self._by_digest = {_digest(t): p for t, p in (principals or {}).items()}

    def __len__(self) -> int:
        return len(self._by_digest)

    def add(self, token: str, principal: Principal) -> None:
        if len(token) < 8:
            raise ValueError("a token needs at least 8 characters")
        self._by_digest[_digest(token)] = principal

    def lookup(self, token: str) -> Principal | None:
        return self._by_digest.get(_digest(token))

    @classmethod
    def parse_env(cls, spec: str) -> TokenTable:
        """ "token:role[:agent_id],..." (DIALER_AUTH_TOKENS)."""
        table = cls()
        for i, item in enumerate(p.strip() for p in spec.split(",")):
            if not item:
                continue
            parts = item.split(":")
            if len(parts) not in (2, 3):
                raise ValueError(f"DIALER_AUTH_TOKENS entry {i + 1}: want token:role[:agent_id]")
            agent_id = parts[2] if len(parts) == 3 else ""
            table.add(parts[0], _principal(parts[1], agent_id, f"env#{i + 1}"))
        return table

    @classmethod
    def load_file(cls, path: Path) -> TokenTable:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        table = cls()
        for i, entry in enumerate((data or {}).get("tokens", [])):
            table.add(
                str(entry["token"]),
                _principal(
                    str(entry["role"]),
                    str(entry.get("agent_id", "")),
                    str(entry.get("name", f"{path.name}#{i + 1}")),
                ),
            )
        return table

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TokenTable:
        env = os.environ if env is None else env
        table = cls()
        if env.get("DIALER_AUTH_FILE"):
            table = cls.load_file(Path(env["DIALER_AUTH_FILE"]))
        if env.get("DIALER_AUTH_TOKENS"):
            table._by_digest.update(cls.parse_env(env["DIALER_AUTH_TOKENS"])._by_digest)
        return table


def _principal(role: str, agent_id: str, label: str) -> Principal:
    parsed = Role.parse(role)
    if parsed is Role.AGENT and not agent_id:
        raise ValueError(f"token {label}: the agent role needs an agent_id")
    return Principal(parsed, agent_id, label)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def bearer_token(metadata: Mapping[str, str | bytes]) -> str:
    value = metadata.get("authorization", "")
    value = value.decode() if isinstance(value, bytes) else value
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def authorize(tokens: TokenTable, method: str, metadata: Mapping[str, str | bytes]) -> Principal:
    """The caller of `method`, or Unauthenticated / PermissionDenied."""
    token = bearer_token(metadata)
    if not token:
        raise Unauthenticated("missing bearer token (metadata 'authorization: Bearer <token>')")
    principal = tokens.lookup(token)
    if principal is None:
        raise Unauthenticated("unknown bearer token")
    needed = METHOD_ROLES.get(method)
    if needed is None:
        raise PermissionDenied(f"{method} is not open to any role")
    if principal.role < needed:
        raise PermissionDenied(
            f"{method.rsplit('/', 1)[-1]} needs the {needed.name.lower()} role;"
            f" this token is {principal.role.name.lower()}"
        )
    return principal
