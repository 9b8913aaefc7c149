"""When the outbox gives a message up: the admins ([admin] users) are told, once per message.

The notice goes through the outbox like any message (a system turn), on the channel each admin
last used. A notice that cannot be delivered itself is not reported again (no loop); it is still
in `campusbot outbox dead`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.dispatcher import Dispatcher
from bot.sender import DeadLetterHook
from flows.turn import Turn
from storage.models import OutboxMessage

log = logging.getLogger("campusbot.outbox")

NOTICE_KEY = "dead-letter"
#: what the admins see: who did not get what, and why, without the message text itself
NOTICE = ("【消息发送失败】发给 {user} 的一条{kind}已停止重试：{error}\n"
          "编号 {id}。在服务器上运行 campusbot outbox dead 查看，"
          "campusbot outbox retry {id} 重新发送。")
KINDS = {"text": "文字消息", "card": "审批卡片", "card_update": "卡片更新", "image": "图片"}


def notify_admins(dispatcher: Dispatcher, admins: Sequence[str]) -> DeadLetterHook:
    async def notify(message: OutboxMessage, error: str) -> None:
        if (message.dedupe_key or "").startswith(f"{NOTICE_KEY}:"):
            return
        if not admins:
            log.warning("outbox message %s given up; no [admin] users to tell", message.id)
            return
        kind = KINDS.get(str(message.payload.get("type")), "消息")

        def push(turn: Turn) -> None:
            for admin in admins:
                turn.push(admin, NOTICE.format(user=message.user_id, kind=kind,
                                               error=error[:200], id=message.id),
                          dedupe_key=f"{NOTICE_KEY}:{message.id}:{admin}")
        await dispatcher.run_system_turn(push)
    return notify
