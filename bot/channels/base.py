"""The channel adapter interface: what a messaging platform contributes to campusbot.

A channel (the simulator, WeCom, DingTalk) is one `ChannelPlugin`, listed in the registry
(bot/channels/__init__.py). Nothing else in campusbot names a platform: the config, the
application and the services loop over the enabled plugins.

A plugin contributes
- its config section: `section` and `settings_type`, a frozen dataclass with `enabled: bool`
  whose keys are read from the file and from `CAMPUSBOT_<SECTION>__<KEY>`; `check` names what
  is missing once it is enabled;
- `build(context)`: the parts every process needs (server and worker), a `ChannelRuntime`:
  the outbound adapter (`Channel.send`, which renders the neutral payloads of
  `flows.messages`: texts, cards, card updates, images, choices), a lookup of users the
  directory does not know yet, the directory sync, and what to close at exit;
- `serve(app)`: the inbound side in a server: HTTP routes (WeCom's callback) or
  background connections (DingTalk's Stream mode). It turns platform messages into neutral
  `flows.incoming.Incoming` events and hands them to the dispatcher (`app[keys.DISPATCHER]`,
  set at start-up).

People: `Incoming.user_id` is the platform's id of the sender; the dispatcher turns it into the
directory person (storage/identities.py). Outbound, `Channel.send` gets the person's directory
id and sends to their account on that channel (`identities.address`). Channel-specific card
state (WeCom's task id and response codes, DingTalk's outTrackId) lives in `channel_cards`
(storage/channel_cards.py), keyed by the neutral card key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # at run time the config imports the registry, not the other way round
    from aiohttp import web

    from bot.clock import Clock
    from bot.config import Settings
    from bot.flowcharts import Flowcharts
    from flows.definition import FlowDefinition
    from storage.directory import PersonInfo


# --- issue 9: the outbox row being delivered, for channels whose platform de-duplicates
# repeated requests (WeCom's duplicate check keys on it); None outside the sender.
DELIVERING: ContextVar[int | None] = ContextVar("delivering_outbox_id", default=None)

#: connections a platform client may hold open at once: more than the outbox's lanes
#: (bot/sender.MOST_LANES), whose calls may all hang at once; aiohttp's default is 100
HTTP_CONNECTIONS = 320


class DeliveryError(Exception):
    """Sending failed. `retryable` errors are tried again later with backoff; `transient` ones
    (the platform busy, a timeout, the network) pass by themselves and are retried for hours,
    the others a few times (`[outbox] max_attempts`)."""

    def __init__(self, message: str, *, retryable: bool = True, transient: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.transient = transient and retryable


class Channel(Protocol):
    """What the outbox sender needs: delivery of one stored payload to one person."""

    name: str
    #: True when the outbox sender pushes messages out; False for pull-based channels
    #: (the simulator hands messages over when its page or API asks for them).
    pushes: bool

    async def send(self, user_id: str, payload: dict[str, Any]) -> None:
        """Deliver `payload` to the person whose directory id is `user_id`, at their account
        on this channel. Raise DeliveryError (retryable or not) when it did not go out."""


@runtime_checkable
class PreparesDeliveries(Protocol):
    """A channel that reads what its deliveries need for all the users of a claim at once."""

    async def prepare(self, claimed: dict[str, list[int]]) -> None:
        """The sender is about to deliver these outbox rows (row ids by person, in order):
        read what `send` will need for each of them, in one query, and use it for exactly
        those rows (a row delivered later, after a retry, reads afresh)."""


#: fetch and store a user the directory does not know yet (their first message); None when
#: the platform does not know them either
UserLookup = Callable[[str], Awaitable["PersonInfo | None"]]


class Progress(Protocol):
    def total(self, units: int) -> None: ...
    def step(self) -> None: ...


@dataclass
class SyncResult:
    """What a directory sync did, for the terminal."""

    departments: int = 0
    people: int = 0
    deactivated: int = 0
    #: accounts newly linked to a person of the directory
    linked: int = 0
    #: roles the platform gave (WeCom's role tags), as role codes
    roles: list[str] = field(default_factory=list)


#: sync departments and members from the platform into the directory, linking accounts
DirectorySync = Callable[["Progress | None"], Awaitable[SyncResult]]


async def _nothing() -> None:
    return None


@dataclass
class ChannelRuntime:
    """One enabled channel's parts in one process."""

    channel: Channel
    lookup_user: UserLookup | None = None
    sync: DirectorySync | None = None
    close: Callable[[], Awaitable[None]] = _nothing


@dataclass(frozen=True)
class ChannelContext:
    """What a plugin may use to build its parts."""

    settings: Settings
    clock: Clock
    #: flow id → definition (e.g. to draw a flowchart the channel sends as a picture)
    flows: Callable[[str], FlowDefinition | None]
    flowcharts: Flowcharts


class ChannelPlugin(Protocol):
    #: the channel's name in the database (inbound events, outbox, identities): ≤ 16 characters
    name: str
    #: how users know it, in messages: 企业微信, 钉钉
    label: str
    #: the config section, `[section]`
    section: str

    @property
    def settings_type(self) -> type:
        """The section's settings: a frozen dataclass with `enabled: bool`."""
        ...

    def check(self, settings: Any) -> list[str]:
        """Problems with an enabled section, each "section.key: 说明" in Chinese."""
        ...

    def build(self, context: ChannelContext) -> ChannelRuntime: ...

    def serve(self, app: web.Application) -> None:
        """Add the inbound side to a server (routes, or a cleanup context that holds a
        connection). Once the application has started, `app[keys.DISPATCHER]` takes the events
        and `app[keys.CHANNELS][name]` holds this channel's runtime."""
        ...
