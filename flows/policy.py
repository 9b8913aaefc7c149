"""Who may act on what: the one place that says whether an action on an application is allowed.

Every path that lets someone act on an application (a card tap, `同意 N` in text, 转交) asks here,
so a rule added here holds for all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from storage.directory import PersonInfo
from storage.models import ApprovalTask

log = logging.getLogger("campusbot.flows")


class TapRefused(Exception):
    """An action that changes nothing; the message (Chinese) tells the user why."""


def check_assignee(task: ApprovalTask, user_id: str) -> None:
    """Only the person a card was sent to may act on it."""
    if task.approver_id != user_id:
        log.warning("card tap by someone else: card=%s application=%s assignee=%s user=%s",
                    task.card_key, task.application_id, task.approver_id, user_id)
        raise TapRefused("这张卡片不是发给您的，您无法处理。")


def check_transfer_target(actor_id: str, target: PersonInfo) -> None:
    if target.id == actor_id:
        raise TapRefused("不能转交给自己。")


def already_approved(approved_ids: Iterable[str], wanted: Iterable[str], mode: str) -> bool:
    """Whether the people of a stage approved an earlier stage already, so asking them again
    adds nothing (审批人去重): for 会签 all of them, otherwise any one."""
    approved, people = set(approved_ids), set(wanted)
    return people <= approved if mode == "all" else bool(people & approved)
