"""The loaded flow definitions: lookup, who may apply for what, and reload without restart.

Only a malformed file (syntax, unknown key, bad condition, broken structure) is left out; who
approves is resolved against the directory each time a stage opens (flows/assignment.py), so a
directory gap never takes a process offline. Each application keeps the definition it started
with, identified by the digest of its content: the catalog keeps every definition it served,
and finds one an application of another process (or before a restart) started with in the
database.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Protocol

from flows.definition import FlowDefinition
from flows.loader import definition_from_document, read_flow_files
from flows.machine import all_states
from flows.overrides import SchoolOverrides, read_overrides
from flows.problems import FlowFileError, Problem
from flows.validation import check_structure, check_unique
from storage import flow_definitions
from storage.roles import ANYONE

log = logging.getLogger("campusbot.flows")

DEFAULT_CATALOG = Path(__file__).parent / "catalog"

# the units in the order the notice lists them; units it does not list come after, by name
NOTICE_UNITS = (
    "党政办公室", "党委组织部", "人事处", "宣传统战部", "学生工作处", "保卫处", "教务处",
    "教学质量监督处", "科研处", "审计处", "资产管理处", "信息与公共实验管理中心", "后勤基建处",
)


class StartedApplication(Protocol):
    flow_id: str
    flow_digest: str | None
    state: str


def notice_order(definitions: Iterable[FlowDefinition]) -> list[FlowDefinition]:
    """By unit in the notice's order, then by process name."""
    rank = {unit: index for index, unit in enumerate(NOTICE_UNITS)}
    return sorted(definitions, key=lambda d: (rank.get(d.unit, len(rank)), d.unit, d.name, d.id))


async def check_flows(path: Path, action_names: Collection[str],
                      overrides: SchoolOverrides | None = None) -> tuple[list[FlowDefinition],
                                                                          list[Problem]]:
    """Read and validate every flow file under `path` (with the school's overrides); all
    problems at once."""
    definitions, problems = read_flow_files(path, overrides)
    problems += check_unique(definitions)
    for definition in definitions:
        problems += check_structure(definition, action_names)
    return definitions, problems


def _valid(definitions: list[FlowDefinition], problems: list[Problem]) -> list[FlowDefinition]:
    broken = {p.file for p in problems}
    return [d for d in definitions if d.source not in broken]


class Catalog:
    """Serves the flows whose files are valid; a broken file is left out and reported, so one
    unit's mistake never takes the others' processes offline (成熟一个、上线一个)."""

    def __init__(self, path: Path, definitions: list[FlowDefinition],
                 problems: list[Problem] | None = None, overrides_path: Path | None = None) -> None:
        self.path = path
        self.overrides_path = overrides_path
        self._by_id = {d.id: d for d in definitions}
        #: every definition served since start (and those restored for applications)
        self._by_digest = {d.digest: d for d in definitions if d.digest}
        self._kept: set[str] = set()
        self.problems = problems or []
        #: bumped on every reload, so indexes built from the definitions know to rebuild
        self.generation = 0
        self._stamp = self.files_stamp()

    def files_stamp(self) -> tuple[tuple[str, int], ...]:
        """Names and modification times of the flow files and the school's overrides file:
        changes when any of them does."""
        files = sorted(self.path.glob("*.toml")) if self.path.is_dir() else [self.path]
        if self.overrides_path is not None:
            files.append(self.overrides_path)
        return tuple((str(f), f.stat().st_mtime_ns) for f in files if f.exists())

    def changed_on_disk(self) -> bool:
        return self.files_stamp() != self._stamp

    @classmethod
    async def load(cls, path: Path, action_names: Collection[str],
                   overrides_path: Path | None = None) -> Catalog:
        definitions, problems = await check_flows(path, action_names,
                                                  read_overrides(overrides_path))
        for problem in problems:
            log.error("flow file problem, file left out: %s", problem)
        valid = _valid(definitions, problems)
        if not valid:
            raise FlowFileError(problems or [Problem(path, "", "没有可用的流程文件")])
        log.info("flows loaded: %d of %d files", len(valid), len(definitions))
        return cls(path, valid, problems, overrides_path)

    async def reload(self, action_names: Collection[str]) -> list[Problem]:
        """Re-read the files without a restart. A file with problems keeps its previous
        version (if it had one); the problems are returned and logged. Applications keep the
        definitions they started with."""
        stamp = self.files_stamp()
        definitions, problems = await check_flows(self.path, action_names,
                                                  read_overrides(self.overrides_path))
        for problem in problems:
            log.error("flow file problem on reload: %s", problem)
        fresh = {d.id: d for d in _valid(definitions, problems)}
        broken_files = {p.file for p in problems}
        for old in self._by_id.values():
            if old.id not in fresh and old.source in broken_files:
                fresh[old.id] = old
        self._by_id = fresh
        self._by_digest.update({d.digest: d for d in fresh.values() if d.digest})
        self.problems = problems
        self.generation += 1
        self._stamp = stamp
        log.info("flows reloaded: %d definitions", len(fresh))
        return problems

    def get(self, flow_id: str) -> FlowDefinition | None:
        """The current definition of a flow (what a new application starts with)."""
        return self._by_id.get(flow_id)

    def by_name(self, name: str) -> FlowDefinition | None:
        return next((d for d in self._by_id.values() if d.name == name), None)

    def all(self) -> list[FlowDefinition]:
        return list(self._by_id.values())

    def visible_to(self, user_id: str) -> list[FlowDefinition]:
        """Live flows, plus draft and review flows for the reviewers they name."""
        return [d for d in self._by_id.values()
                if d.status == "live" or user_id in d.reviewers]

    # ---- definitions of applications ------------------------------------------------------
    async def keep(self, definition: FlowDefinition) -> None:
        """Store the definition an application starts with, so it can always be continued.

        Called inside the turn's transaction, which may still roll back (a batch of turns, a
        conflict): so it is checked each time rather than remembered as stored."""
        if not definition.digest or definition.digest in self._kept:
            return
        await flow_definitions.keep(digest=definition.digest, flow_id=definition.id,
                                    source=str(definition.source or definition.id),
                                    document_json=definition.document_json)

    async def definition_of(self, application: StartedApplication) -> FlowDefinition | None:
        """The definition the application started with; for applications from before
        definitions were kept, the current one if it still has the application's state."""
        digest = application.flow_digest
        if digest:
            known = self._by_digest.get(digest) or await self._restore(digest)
            if known is not None:
                return known
        current = self._by_id.get(application.flow_id)
        if current is None or application.state not in all_states(current):
            return None
        return current

    def known_definition(self, application: StartedApplication) -> FlowDefinition | None:
        """Without a database look-up: the application's own definition if in memory, else
        the current one (for names and labels)."""
        digest = application.flow_digest
        return (self._by_digest.get(digest) if digest else None) or self._by_id.get(
            application.flow_id)

    async def _restore(self, digest: str) -> FlowDefinition | None:
        record = await flow_definitions.find(digest)
        if record is None:
            log.error("flow definition %s not found in the database", digest)
            return None
        problems: list[Problem] = []
        definition = definition_from_document(Path(record.source), record.document, problems)
        if definition is None or problems:
            log.error("stored flow definition %s of %s no longer reads: %s", digest,
                      record.flow_id, "; ".join(str(p) for p in problems))
            return None
        self._by_digest[digest] = definition
        self._kept.add(digest)
        return definition


def may_apply(definition: FlowDefinition, roles: Collection[str]) -> bool:
    return ANYONE in definition.audience or bool(set(definition.audience) & set(roles))
