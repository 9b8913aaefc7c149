"""Who the asker says they are (我是院长, 我在附属小学当副校长, 本人是辅导员).

The directory gives the asker's roles; a title stated in the question tells what the question is
about, so the guide search weighs the variants of a process (请假 for a teacher, a head, a school
leader …) by it instead. Applying still goes by the directory's roles.
"""

from __future__ import annotations

import re

_AFFILIATED = re.compile(r"附中|附小|附属|幼儿园")
#: (title, roles it implies), the more specific first (副院长 before 院长); a title followed by
#: 办公室 or 秘书 is someone working for that person (校长办公室的)
_TITLES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(rf"(?:{pattern})(?!办|室|秘书|助理)"), roles) for pattern, roles in (
        (r"校领导|副校长|校长|党委书记|党委副书记", ("school_leader",)),
        (r"副院长|副处长|副部长|副主任|副书记|副科长|科长|中层干部|中层|干部", ("cadre",)),
        (r"院长|处长|部长|主任|书记|一把手|部门负责人|主要负责人", ("dept_head", "cadre")),
        (r"辅导员", ("counselor", "teacher")),
        (r"学生|本科生|研究生|大[一二三四]|新生", ("student",)),
        (r"老师|教师|教职工", ("teacher",)),
    ))
_DEPUTY = re.compile(r"副校长|副园长|副书记|副职|副院长")
_HEAD = re.compile(r"校长|园长|书记|负责人|一把手|院长")
#: 我是… / 本人是… / 作为… / 我在…当…: the title may follow a unit;
#: a bare 我 only right before it (我副院长)
_STATED = re.compile(r"(?:我是|我现在是|本人是|作为|我在|我当)(?P<span>[^\s，,。！？!?；;]{1,16})")
_BARE = re.compile(r"我(?P<span>副?(?:院长|处长|部长|主任|校长|书记)[^\s，,。！？!?]{0,4})")


def stated_roles(text: str) -> tuple[str, ...]:
    """The roles of a title the asker gives themselves; empty when they state none."""
    for found in (*_STATED.finditer(text), *_BARE.finditer(text)):
        span = found.group("span")
        if _AFFILIATED.search(span):
            if _DEPUTY.search(span):
                return ("affiliated_deputy", "cadre")
            if _HEAD.search(span):
                return ("affiliated_head", "cadre")
        for pattern, roles in _TITLES:
            if pattern.search(span):
                return roles
    return ()
