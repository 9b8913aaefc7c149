"""The loaded flow definitions: lookup, who may apply for what, and reload without restart."""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

from flows.definition import FlowDefinition
from flows.loader import read_flow_files
from flows.problems import FlowFileError, Problem
from flows.validation import ANYONE, check_directory, check_structure, check_unique
from storage.directory import Directory, PersonInfo

log = logging.getLogger("campusbot.flows")

DEFAULT_CATALOG = Path(__file__).parent / "catalog"


async def check_flows(path: Path, action_names: Collection[str], directory: Directory,
                      people: list[PersonInfo]) -> tuple[list[FlowDefinition], list[Problem]]:
    """Read and fully validate every flow file under `path`; all problems at once."""
    definitions, problems = read_flow_files(path)
    problems += check_unique(definitions)
    for definition in definitions:
        problems += check_structure(definition, action_names)
        problems += await check_directory(definition, directory, people)
    return definitions, problems


class Catalog:
    def __init__(self, path: Path, definitions: list[FlowDefinition]) -> None:
        self.path = path
        self._by_id = {d.id: d for d in definitions}

    @classmethod
    async def load(cls, path: Path, action_names: Collection[str], directory: Directory,
                   people: list[PersonInfo]) -> Catalog:
        definitions, problems = await check_flows(path, action_names, directory, people)
        if problems:
            raise FlowFileError(problems)
        return cls(path, definitions)

    async def reload(self, action_names: Collection[str], directory: Directory,
                     people: list[PersonInfo]) -> list[Problem]:
        """Re-read the files; on any problem keep serving the previous definitions."""
        definitions, problems = await check_flows(self.path, action_names, directory, people)
        if problems:
            log.warning("flow reload refused: %d problem(s)", len(problems))
            return problems
        self._by_id = {d.id: d for d in definitions}
        log.info("flows reloaded: %d definitions", len(definitions))
        return []

    def get(self, flow_id: str) -> FlowDefinition | None:
        return self._by_id.get(flow_id)

    def by_name(self, name: str) -> FlowDefinition | None:
        return next((d for d in self._by_id.values() if d.name == name), None)

    def all(self) -> list[FlowDefinition]:
        return list(self._by_id.values())

    def visible_to(self, user_id: str) -> list[FlowDefinition]:
        """Live flows, plus draft and review flows for the reviewers they name."""
        return [d for d in self._by_id.values()
                if d.status == "live" or user_id in d.reviewers]


def may_apply(definition: FlowDefinition, roles: Collection[str]) -> bool:
    return ANYONE in definition.audience or bool(set(definition.audience) & set(roles))
