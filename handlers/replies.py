"""Fixed texts of the out-of-flow commands, and small talk: greetings, thanks, acknowledgements
and emoji get one friendly line."""

from __future__ import annotations

import re
import unicodedata

HELP = """我可以帮您：
· 问办事指南：直接问，例如“电脑坏了找谁修”“怎么借录播教室”
· 在线办理：说“我要请假”“我要报修电脑”，或回复“我要办理”按部门查看全部事项
· 查进度：回复“我的申请”；审批人回复“待办”查看待处理事项
· 假期结束后回复“销假”"""

NOT_IN_DIRECTORY = ("您好，通讯录中还没有您的信息，暂时无法使用网上办事大厅。"
                    "请联系信息与公共实验管理中心（网上办事大厅管理员）开通后再试。")

PLEASE_TYPE = "暂时只能看懂文字消息，请直接打字告诉我您要办什么，例如“我要请假”。"

GREETING = "您好！我是网上办事大厅助手，可以查办事指南、在线申请和审批。\n" + HELP

HELLO_REPLY = "您好！想办什么事直接告诉我就行，例如“我要请假”“电脑坏了找谁修”。"
THANKS_REPLY = "不客气，有需要随时找我。"
OK_REPLY = "好的，有需要随时找我。"
#: commands that act on something open, said when nothing is
NOTHING_TO_CONFIRM = "现在没有待提交的申请。想办什么事，直接告诉我就行。"
NOTHING_OPEN = "现在没有正在填写的申请。想办什么事，直接告诉我就行。"
NOTHING_TO_RATE = "目前没有需要评价的服务。"
STALE_CHOICE = "这个问题所在的申请已经结束，不用再回答了。"

HELP_WORDS = ("帮助", "help", "菜单", "?", "？", "怎么用", "使用说明", "你能做什么", "功能")
HELLO_WORDS = ("你好", "您好", "在吗", "在不在", "hi", "hello", "嗨", "哈喽", "早上好", "上午好",
               "中午好", "下午好", "晚上好", "早", "早安", "老师好", "你好呀", "您好呀", "在么")
THANKS_WORDS = ("谢谢", "多谢", "感谢", "谢了", "谢谢你", "谢谢您", "thanks", "thankyou", "thx",
                "辛苦了", "辛苦", "麻烦了", "感谢感谢", "谢谢老师")
OK_WORDS = ("好", "好的", "好滴", "好嘞", "嗯", "嗯嗯", "哦", "哦哦", "ok", "okay", "收到",
            "知道了", "明白了", "明白", "了解", "行", "可以", "没事了", "没问题", "不用了", "再见",
            "拜拜", "bye")
CONFIRM_WORDS = ("确认", "确定", "提交", "确认提交")
DIALOG_WORDS = ("返回", "上一步", "上一项", "回退", "取消", "不办了", "退出", "放弃", "继续")
_EDIT = re.compile(r"^(?:修改|改)\s*第?\s*\d{1,2}\s*项?$")
_TRAILING = re.compile(r"[\s,，.。!！~～?？啊呀哈啦呢吧]+$")


def _plain(text: str) -> str:
    return _TRAILING.sub("", unicodedata.normalize("NFKC", text).strip().lower())


def is_emoji_only(text: str) -> bool:
    """Only emoji, symbols and punctuation (😀, 👍, ！！)."""
    stripped = "".join(text.split())
    return bool(stripped) and all(unicodedata.category(c)[0] in "SPC" or c in "\u200d\ufe0f"
                                  for c in stripped)


def small_talk(text: str) -> str | None:
    """One friendly line for a greeting, thanks, an acknowledgement or emoji; None otherwise."""
    if is_emoji_only(text):
        return OK_REPLY
    plain = _plain(text)
    if plain in HELLO_WORDS or (plain.startswith(HELLO_WORDS) and len(plain) <= 5):
        return HELLO_REPLY
    if plain in THANKS_WORDS or (plain.startswith(("谢谢", "多谢", "感谢")) and len(plain) <= 8):
        return THANKS_REPLY
    if plain in OK_WORDS:
        return OK_REPLY
    return None


def nothing_to_act_on(text: str) -> str | None:
    """The one line for a dialog command when no dialog is open (确认, 修改 3, 返回)."""
    plain = _plain(text)
    if plain in CONFIRM_WORDS:
        return NOTHING_TO_CONFIRM
    if plain in DIALOG_WORDS or _EDIT.match(plain):
        return NOTHING_OPEN
    return None
