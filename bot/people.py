"""Who wrote, and where to reach a person, when one person may use several channels.

    person_of(channel, account)   the directory person behind an account (storage/identities.py),
                                  else the person with that id, else the channel's lookup of
                                  someone the directory does not know yet (linked on the spot)
    channel_for(person)           where cards and reminders go: the channel set for the person,
                                  else the real channel they wrote from last (never the
                                  simulator, bot/channels/simulator.py), else the first (in the
                                  registry's order) they have an account on, else the first
                                  enabled channel

Replies to what someone wrote go back to the channel it came from; that is the dispatcher's.
Every outcome stays among the enabled channels, so a channel turned off is never written to.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from bot import channels as registry
from bot.channels.base import UserLookup
from storage import identities
from storage.conversations import last_channel_of
from storage.directory import Directory, PersonInfo
from storage.directory_file import DirectoryFile

log = logging.getLogger("campusbot.people")


class People:
    def __init__(self, directory: Directory, channels: Sequence[str],
                 lookups: Mapping[str, UserLookup] | None = None) -> None:
        self.directory = directory
        #: the enabled channels, in the registry's order of preference
        self.channels = list(channels)
        self.lookups = dict(lookups or {})
        #: (channel, account) → the person it is linked to, for the directory generation
        #: `_generation`; see `_linked`
        self._links: dict[tuple[str, str], str] = {}
        self._generation = -1

    async def person_of(self, channel: str, account: str) -> PersonInfo | None:
        person_id = await self._linked(channel, account)
        if person_id:
            return await self.directory.person(person_id)  # None once they left
        person = await self.directory.person(account)
        if person is not None:
            return person
        lookup = self.lookups.get(channel)
        if lookup is None:
            return None
        person = await lookup(account)
        if person is not None:
            await identities.link(channel, account, person.id, source=identities.CONTACT)
            self._links[(channel, account)] = person.id
        return person

    async def _linked(self, channel: str, account: str) -> str:
        """The person the account is linked to. Every link is read in one query per directory
        generation and kept: a link is changed or removed only by a sync or the directory
        file, and both bump the generation. A link made since by another process's
        first-contact lookup is missed until then, which only means this process looks the
        account up on the platform as it did before (and finds the same person)."""
        generation = await self.directory.generation()  # from memory; re-checked each second
        if generation != self._generation:
            self._links = await identities.all_links()
            self._generation = generation
        return self._links.get((channel, account), "")

    async def channel_for(self, person_id: str) -> str:
        preferred = await identities.preferred_channel(person_id)
        if preferred in self.channels:
            return str(preferred)
        last = await last_channel_of(person_id)
        if last in self.channels and last != registry.SIMULATOR:   # an older version stored it
            return str(last)
        accounts = await identities.accounts_of(person_id)
        for channel in self.channels:
            if channel in accounts:
                return channel
        if preferred or last:
            log.info("person %s: channel %s is off, using %s", person_id, preferred or last,
                     self.primary)
        return self.primary

    @property
    def primary(self) -> str:
        return self.channels[0] if self.channels else "sim"


def file_accounts(file: DirectoryFile) -> list[identities.FileAccounts]:
    """The directory file's accounts, keys and preferred channels, checked against every
    registered channel (a file may list accounts on a channel that is off for now)."""
    return identities.file_accounts(file, [plugin.name for plugin in registry.plugins()])
