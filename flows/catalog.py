"""The loaded flow definitions: lookup, who may apply for what, and reload without restart."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from pathlib import Path

from flows.definition import FlowDefinition
from flows.loader import read_flow_files
from flows.problems import FlowFileError, Problem
from flows.validation import ANYONE, check_directory, check_structure, check_unique
from storage.directory import Directory, PersonInfo

log = logging.getLogger("campusbot.flows")

DEFAULT_CATALOG = Path(__file__).parent / "catalog"

# the units in the order the notice lists them; units it does not list come after, by name
NOTICE_UNITS = (
    "党政办公室", "党委组织部", "人事处", "宣传统战部", "学生工作处", "保卫处", "教务处",
    "教学质量监督处", "科研处", "审计处", "资产管理处", "信息与公共实验管理中心", "后勤基建处",
)


def notice_order(definitions: Iterable[FlowDefinition]) -> list[FlowDefinition]:
    """By unit in the notice's order, then by process name."""
    rank = {unit: index for index, unit in enumerate(NOTICE_UNITS)}
    return sorted(definitions, key=lambda d: (rank.get(d.unit, len(rank)), d.unit, d.name, d.id))


async def check_flows(path: Path, action_names: Collection[str], directory: Directory,
                      people: list[PersonInfo]) -> tuple[list[FlowDefinition], list[Problem]]:
    """Read and fully validate every flow file under `path`; all problems at once."""
    definitions, problems = read_flow_files(path)
    problems += check_unique(definitions)
    for definition in definitions:
        problems += check_structure(definition, action_names)
        problems += await check_directory(definition, directory, people)
    return definitions, problems


def _valid(definitions: list[FlowDefinition], problems: list[Problem]) -> list[FlowDefinition]:
    broken = {p.file for p in problems}
    return [d for d in definitions if d.source not in broken]


class Catalog:
    """Serves the flows whose files are valid; a broken file is left out and reported, so one
    unit's mistake never takes the others' processes offline (成熟一个、上线一个)."""

    def __init__(self, path: Path, definitions: list[FlowDefinition],
                 problems: list[Problem] | None = None) -> None:
        self.path = path
        self._by_id = {d.id: d for d in definitions}
        self.problems = problems or []
        #: bumped on every reload, so indexes built from the definitions know to rebuild
        self.generation = 0
        self._stamp = self.files_stamp()

    def files_stamp(self) -> tuple[tuple[str, int], ...]:
        """Names and modification times of the flow files: changes when any file does."""
        files = sorted(self.path.glob("*.toml")) if self.path.is_dir() else [self.path]
        return tuple((f.name, f.stat().st_mtime_ns) for f in files if f.exists())

    def changed_on_disk(self) -> bool:
        return self.files_stamp() != self._stamp

    @classmethod
    async def load(cls, path: Path, action_names: Collection[str], directory: Directory,
                   people: list[PersonInfo]) -> Catalog:
        definitions, problems = await check_flows(path, action_names, directory, people)
        for problem in problems:
            log.error("flow file problem, file left out: %s", problem)
        valid = _valid(definitions, problems)
        if not valid:
            raise FlowFileError(problems or [Problem(path, "", "没有可用的流程文件")])
        log.info("flows loaded: %d of %d files", len(valid), len(definitions))
        return cls(path, valid, problems)

    async def reload(self, action_names: Collection[str], directory: Directory,
                     people: list[PersonInfo]) -> list[Problem]:
        """Re-read the files without a restart. A file with problems keeps its previous
        version (if it had one); the problems are returned and logged."""
        stamp = self.files_stamp()
        definitions, problems = await check_flows(self.path, action_names, directory, people)
        for problem in problems:
            log.error("flow file problem on reload: %s", problem)
        fresh = {d.id: d for d in _valid(definitions, problems)}
        broken_files = {p.file for p in problems}
        for old in self._by_id.values():
            if old.id not in fresh and old.source in broken_files:
                fresh[old.id] = old
        self._by_id = fresh
        self.problems = problems
        self.generation += 1
        self._stamp = stamp
        log.info("flows reloaded: %d definitions", len(fresh))
        return problems
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
