"""The school's own names for the units flow files name as the notice does.

Flow files say 人事处 (the notice's word); a school whose directory calls the department 人事部
(with 人事处 as an alias) should read 人事部 in every menu, guide and message, and its people's
words for it (人事部, or any alias) should find the unit's processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from storage.directory import Directory


async def school_names(directory: Directory, units: Iterable[str]) -> dict[str, str]:
    """notice unit → the directory's name for it, where the directory has one that differs."""
    names: dict[str, str] = {}
    for unit in dict.fromkeys(units):
        department = await directory.department_named(unit)
        if department is not None and department.name != unit:
            names[unit] = department.name
    return names


async def unit_words(directory: Directory, units: Iterable[str]) -> dict[str, str]:
    """Every name the school uses for a unit (its directory name and aliases, and the notice
    name itself) → the notice unit."""
    words: dict[str, str] = {}
    for unit in dict.fromkeys(units):
        words[unit] = unit
        department = await directory.department_named(unit)
        if department is not None:
            for word in (department.name, *department.aliases):
                words.setdefault(word, unit)
    return words


def named_unit(text: str, words: Mapping[str, str]) -> str | None:
    """The unit a question names (the longest word found), or None."""
    found = [word for word in words if len(word) >= 2 and word in text]
    return words[max(found, key=len)] if found else None

