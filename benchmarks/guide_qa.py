"""Guide QA benchmark: questions in people's own words → the process the bot picks.

Runs question sets (question<TAB>expected process name; NONE = outside the catalog; optionally
a third column `asker`) through the real `GuideIndex` over the real flow files and reports:

- top-1 / top-3: the expected process is the first / among the first three the bot offers (the
  confident answer, or the numbered candidates it lists);
- answered directly: a confident answer, split into right and wrong (wrong must stay 0: the bot
  never gives a confident wrong answer), asked to choose (numbered list), declined;
- out of scope: a NONE question is handled when the bot declines it;
- answer time: median and p99 of `GuideIndex.find` per question, after a warm-up.

Who asks (the asker's roles change the answer, see flows/search.py): a plain teacher (zhang_t) —
unless the expected process is not open to teachers; then a demo user holding the process's most
specific audience role and no more specific one (stu_liu for student-only processes, li_dean for
部门主要负责人, lit_vdean for 干部, vp_wu for 校领导). NONE questions are asked by the teacher.
Roles are the demo directory's, the implied ones included (storage/roles.py).
A file may name the asker per question in a third column `asker`: one of teacher, student,
counselor, cadre, dept_head, school_leader — the demo user for whom that role is the most
specific one asks (zhang_t, stu_liu, chen_c, lit_vdean, a department head, a school leader); an
empty cell falls back to the rule above.

    .venv/bin/python benchmarks/guide_qa.py                 # dev and held-out sets
    .venv/bin/python benchmarks/guide_qa.py --misses        # also list every miss
    .venv/bin/python benchmarks/guide_qa.py --write-docs    # update docs/benchmarks.md
    .venv/bin/python benchmarks/guide_qa.py --extra my.tsv  # any other question file
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.catalog import Catalog  # noqa: E402
from flows.definition import FlowDefinition  # noqa: E402
from flows.loader import read_flow_files  # noqa: E402
from flows.search import ROLE_SPECIFICITY, Answer, GuideIndex  # noqa: E402
from storage.directory_file import read_directory_file  # noqa: E402
from storage.directory_snapshot import file_alone  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
SETS = {"dev": DATA / "guide_dev.tsv", "holdout": DATA / "guide_holdout.tsv",
        "holdout2": DATA / "guide_holdout2.tsv", "phone": DATA / "guide_phone.tsv",
        "phone_check": DATA / "guide_phone_check.tsv",
        "holdout3": DATA / "guide_holdout3.tsv", "phone3": DATA / "guide_phone3.tsv",
        "tuning": DATA / "guide_tuning.tsv", "probe": DATA / "guide_probe.tsv",
        "oos_check": DATA / "guide_oos_check.tsv", "fresh": DATA / "guide_fresh.tsv",
        "holdout5": DATA / "guide_holdout5.tsv", "holdout6": DATA / "guide_holdout6.tsv",
        "holdout7": DATA / "guide_holdout7.tsv"}
DOCS = ROOT / "docs" / "benchmarks.md"
HISTORY = DATA / "guide_qa_history.md"      # the first runs of the held-out sets, kept as they were
SECTION = "## Guide QA"
CATALOG = ROOT / "flows" / "catalog"
DIRECTORY = ROOT / "storage" / "demo_directory.toml"
TEACHER = "zhang_t"
NONE = "NONE"
#: roles a question file may name in its `asker` column
ASKER_ROLES = ("teacher", "student", "counselor", "cadre", "dept_head", "school_leader")
REPEAT = 20


@dataclass
class Result:
    question: str
    expected: str
    asker: str
    answer: Answer

    @property
    def offered(self) -> list[str]:
        return [m.definition.name for m in self.answer.matches]


@dataclass
class Report:
    name: str
    results: list[Result] = field(default_factory=list)
    times_ms: list[float] = field(default_factory=list)

    def inside(self) -> list[Result]:
        return [r for r in self.results if r.expected != NONE]

    def outside(self) -> list[Result]:
        return [r for r in self.results if r.expected == NONE]

    def count(self, results: list[Result], test: str) -> int:
        return sum(1 for r in results if _passes(r, test))


def _passes(result: Result, test: str) -> bool:
    offered, status = result.offered, result.answer.status
    checks = {
        "top1": offered[:1] == [result.expected],
        "top3": result.expected in offered[:3],
        "confident_right": status == "confident" and offered[:1] == [result.expected],
        "confident_wrong": status == "confident" and offered[:1] != [result.expected],
        "confident": status == "confident",
        "ambiguous": status == "ambiguous",
        "likely": status == "likely",
        "declined": status == "unknown",
    }
    return checks[test]


# ---- who asks -----------------------------------------------------------------------------------
def load_people() -> dict[str, tuple[str, ...]]:
    """Demo users and their effective roles, the implied ones (staff, dept_head,
    affiliated_head, school_leader) as the directory gives them."""
    directory = file_alone(read_directory_file(str(DIRECTORY)))
    return {person.id: tuple(person.roles) for person in directory.people_by_id.values()}


def asker_for(definition: FlowDefinition | None, people: dict[str, tuple[str, ...]],
              role: str = "") -> str:
    """Who asks: the holder of `role` when a question file names it, else by the process."""
    if role:
        return holder_of(role, people)
    audience = set(definition.audience) if definition else set()
    if definition is None or audience & {"any", "teacher"}:
        return TEACHER
    return holder_of(max(audience, key=lambda r: ROLE_SPECIFICITY.get(r, 0)), people)


def holder_of(role: str, people: dict[str, tuple[str, ...]]) -> str:
    """The demo user for whom `role` is the most specific one (a cadre who is not also a head)."""
    if role == "teacher":
        return TEACHER
    holders = [user for user, roles in people.items() if role in roles]
    if not holders:
        raise SystemExit(f"no demo user holds the role {role!r}")
    return min(holders, key=lambda user: max(ROLE_SPECIFICITY.get(r, 0) for r in people[user]))


# ---- running ------------------------------------------------------------------------------------
def read_questions(path: Path) -> list[tuple[str, str, str]]:
    """(question, expected, asker role or "") of each line after the header."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()[1:], 2):
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split("\t")]
        if len(cells) < 2:
            raise SystemExit(f"{path.name}:{number}: expected question<TAB>expected[<TAB>asker]")
        asker = cells[2] if len(cells) > 2 else ""
        if asker and asker not in ASKER_ROLES:
            raise SystemExit(f"{path.name}:{number}: asker {asker!r} is not one of "
                             f"{', '.join(ASKER_ROLES)}")
        rows.append((cells[0], cells[1], asker))
    return rows


def load_index() -> tuple[GuideIndex, Catalog]:
    definitions, problems = read_flow_files(CATALOG)
    broken = {p.file for p in problems}
    catalog = Catalog(CATALOG, [d for d in definitions if d.source not in broken])
    index = GuideIndex(catalog)
    index.warm_up()
    return index, catalog


def run_set(name: str, rows: list[tuple[str, str, str]], index: GuideIndex, catalog: Catalog,
            people: dict[str, tuple[str, ...]]) -> Report:
    report = Report(name)
    for question, expected, role in rows:
        definition = catalog.by_name(expected)
        if expected != NONE and definition is None:
            raise SystemExit(f"{name}: unknown process {expected!r} (question {question!r})")
        asker = asker_for(definition, people, role)
        roles = people[asker]
        index.find(question, roles)                      # warm-up
        for _ in range(REPEAT):
            started = time.perf_counter()
            answer = index.find(question, roles)
            report.times_ms.append((time.perf_counter() - started) * 1000)
        report.results.append(Result(question, expected, asker, answer))
    return report


# ---- reporting ----------------------------------------------------------------------------------
def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f}%)" if whole else "–"


def table_rows(report: Report) -> list[tuple[str, str]]:
    inside, outside = report.inside(), report.outside()
    return [
        ("questions (in catalog / out of scope)", f"{len(inside)} / {len(outside)}"),
        ("top-1 accuracy", _share(report.count(inside, "top1"), len(inside))),
        ("top-3 accuracy", _share(report.count(inside, "top3"), len(inside))),
        ("answered directly and right", _share(report.count(inside, "confident_right"),
                                               len(inside))),
        ("answered directly but wrong", str(report.count(inside, "confident_wrong"))),
        ("offered as the likely one (single, hedged)", str(report.count(inside, "likely"))),
        ("asked to choose from a numbered list", str(report.count(inside, "ambiguous"))),
        ("declined although in the catalog", str(report.count(inside, "declined"))),
        ("out of scope declined", _share(report.count(outside, "declined"), len(outside))),
        ("out of scope offered one process (hedged)", str(report.count(outside, "likely"))),
        ("out of scope answered directly (wrong)", str(report.count(outside, "confident"))),
        ("median answer time", f"{statistics.median(report.times_ms):.2f} ms"),
        ("p99 answer time", f"{percentile(report.times_ms, 0.99):.2f} ms"),
    ]


def misses(report: Report) -> list[str]:
    lines = []
    for result in report.results:
        good = (result.answer.status == "unknown" if result.expected == NONE
                else _passes(result, "top1") and result.answer.status == "confident")
        if not good:
            offered = "、".join(result.offered) or "（不知道）"
            lines.append(f"- [{result.answer.status}] {result.question} ({result.asker}) "
                         f"→ {offered}; expected {result.expected}")
    return lines


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        models = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
    if models:
        cpu = models[0]
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()} "
            f"({platform.python_implementation()}), {platform.system()}")


def busy_note() -> str:
    """Said when other work shared the machine: the times are then high, the rest holds."""
    load = os.getloadavg()[0]
    if load < 1.0:
        return ""
    return (f" Load average {load:.1f} during the run (other processes busy): the answer "
            "times are higher than on a quiet machine; the accuracy figures do not depend on it.")


def markdown(reports: list[Report]) -> str:
    header = "| | " + " | ".join(r.name for r in reports) + " |"
    lines = [header, "|---|" + "---|" * len(reports)]
    rows = [table_rows(r) for r in reports]
    for position, (label, _) in enumerate(rows[0]):
        lines.append(f"| {label} | " + " | ".join(row[position][1] for row in rows) + " |")
    return "\n".join(lines)


def section_text(reports: list[Report]) -> str:
    parts = [
        SECTION, "",
        "`benchmarks/guide_qa.py`: questions in users' own words through the real search index "
        "(`flows/search.py`) over the real flow files. Top-1/top-3: the expected process is the "
        "first / among the first three the bot offers (its answer, or the numbered list it asks "
        "from). Directly right/wrong: the bot answered without asking. Out of scope: the bot says "
        f"it does not know. Time: `GuideIndex.find` per question after a warm-up, each question "
        f"run {REPEAT} times (the index is built once per catalog generation, ~1 s).",
        "",
        "Asker: the teacher zhang_t, unless the expected process is not open to teachers; then "
        "a demo user holding its most specific audience role and no more specific one (stu_liu, "
        "gpo_huang for 部门主要负责人, lit_vdean for 干部, vp_wu, aff_principal, aff_vprincipal, "
        "chen_c). The asker's role is part of the question: the same words pick the variant "
        "that fits them.",
        "",
        "- **dev**: `benchmarks/data/guide_dev.tsv` (copy of the shared development set) — used "
        "for tuning.",
        "- **holdout**: `benchmarks/data/guide_holdout.tsv` — every process at least once, "
        "typos, 12 out-of-scope questions.",
        "- **holdout2**: `benchmarks/data/guide_holdout2.tsv` — a second set, every process, "
        "7 out-of-scope questions.",
        "- **phone**: `benchmarks/data/guide_phone.tsv` — written from the notice as people type "
        "on a phone (typos, mixed roles, the asker named in a third column), every process, 20 "
        "out-of-scope questions; tuning data for issue 11.",
        "- **phone_check**: `benchmarks/data/guide_phone_check.tsv` — written with phone, other "
        "phrasings, 12 out-of-scope questions; set aside and first run after the tuning.",
        "- **holdout3**: `benchmarks/data/guide_holdout3.tsv` — 144 questions by an outsider "
        "(notice and process names only), 24 out of scope; run once as held out, then used for "
        "tuning (its figures here are no longer held-out figures).",
        "- **phone3**: `benchmarks/data/guide_phone3.tsv` — 233 questions written from the notice "
        "and the process names only, as situations (电脑开不了机, 想出国开会), typos of the same "
        "sound, stated titles, every process at least 4 times, 31 out of scope; run once before "
        "the issue-11 §7 changes, then tuning data.",
        "- **tuning**: `benchmarks/data/guide_tuning.tsv` — an older tuning set (copy of the "
        "shared one), 56 out-of-scope questions.",
        "- **probe**, **oos_check**: `benchmarks/data/guide_probe.tsv` (78 in-catalog questions "
        "in other words) and `benchmarks/data/guide_oos_check.tsv` (40 out of scope), written "
        "after most of the issue-11 §7 changes; their first runs are in the history below.",
        "- **fresh**: `benchmarks/data/guide_fresh.tsv` — 110 questions (15 out of scope), "
        "written after most of the issue-11 §7 changes, committed unrun and run once at the end "
        "of that round (its first run is in the history below; nothing was changed after it).",
        "- **holdout5**, **holdout6**: `benchmarks/data/guide_holdout5.tsv` (239 questions, 40 "
        "out of scope) and `guide_holdout6.tsv` (200, 43 out of scope), each written by an "
        "outsider from the README, the docs and the notice only, kept outside the repo and run "
        "once (first runs in the history below); seen since.",
        "- **holdout7**: `benchmarks/data/guide_holdout7.tsv` — 241 questions (58 out of "
        "scope) by a third outsider under the same rules, run once at cefb4ce (history below).",
        "",
        "Status words: *directly* = a confident answer; *likely* = one candidate shown as "
        "“您问的可能是”, with a way out (never a one-item list); a numbered list has two or more.",
        "",
        markdown(reports), "",
        f"Machine: {machine()}.{busy_note()}", "",
        HISTORY.read_text(encoding="utf-8").strip(), "",
    ]
    for report in reports:
        missed = misses(report)
        if missed:
            parts += [f"Not answered directly and right ({report.name}):", "", *missed, ""]
    return "\n".join(parts)


def write_docs(text: str) -> None:
    """Replace the Guide QA section of docs/benchmarks.md (other sections stay as they are)."""
    current = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    lines = current.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == SECTION), None)
    if start is None:
        updated = current.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                   len(lines))
        updated = "\n".join([*lines[:start], *text.rstrip("\n").splitlines(), "",
                             *lines[end:]])
    DOCS.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=[*SETS, "all"], default="all")
    parser.add_argument("--extra", type=Path, action="append",
                        help="another question file, reported apart (may be repeated)")
    parser.add_argument("--misses", action="store_true", help="list every miss")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    options = parser.parse_args()
    index, catalog = load_index()
    people = load_people()
    files = dict(SETS) if options.set == "all" else {options.set: SETS[options.set]}
    if options.extra:
        files = {path.stem: path for path in options.extra}
    reports = [run_set(name, read_questions(path), index, catalog, people)
               for name, path in files.items()]
    print(markdown(reports))
    print(f"\nMachine: {machine()}")
    if options.misses:
        for report in reports:
            print(f"\n{report.name}:")
            print("\n".join(misses(report)) or "- none")
    if options.write_docs:
        write_docs(section_text(reports))
        print(f"\nwritten to {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
