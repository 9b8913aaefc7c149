"""What a sentence states besides its topic: dates, times and quantities (下周一, 3天, 20万元).

The search sets them aside (they are answers, not topic words); the prefill reads them.
"""

from __future__ import annotations

import re

NUMERAL = r"(?:\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万半]+)"
QUANTITY = re.compile(
    rf"{NUMERAL}\s*(?:万|千)?\s*(?:个月|个工作日|天半|天|日|周|年|元|块钱|块|万元|人|个|台|辆|间|件|"
    r"份|位|名|次|小时)(?!后|以后)")
DATE_WORDS = re.compile(
    r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}[日号]?|"
    r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})月(?:\d{1,2}|[一二三四五六七八九十]{1,3})[日号]?|"
    r"(?:下下|下个|下|本|这个|这|上个|上)?(?:周|星期|礼拜)[一二三四五六日天七]|"
    rf"{NUMERAL}天(?:以)?后|大后天|后天|明天|明日|今天|今日|昨天|前天")
#: times that are not a date of their own (下礼拜, 月底): set aside like dates, never filled in
TIME_WORDS = re.compile(
    r"(?:下下|下个|下|本|这个|这|上个|上)(?:周|星期|礼拜|个?月)|周末|月底|月初|年底|年初|"
    r"近期|最近|过几天|这几天|今年|明年|去年")
#: a span of days: 下周一到周三, 12月7日至9日, 明天到后天
DATE_SPAN = re.compile(rf"(?:{DATE_WORDS.pattern})\s*(?:到|至|~|-|—|–)\s*(?:{DATE_WORDS.pattern}|"
                       r"(?:周|星期|礼拜)[一二三四五六日天七]|\d{1,2}[日号])")
