"""`GET /metrics`, scraped and parsed as Prometheus does, while a teacher requests leave through
WeCom, forged callbacks arrive, the API fails and a message cannot be delivered."""

from __future__ import annotations

import re
from datetime import timedelta

from bot import metrics
from storage import outbox
from tests.bot.channels.wecom.conftest import Bot
from tests.bot.channels.wecom.test_approval import HEAD, fill_leave

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[Samples, dict[str, str]]:
    """The samples and the declared type of each metric; fails on a line Prometheus rejects."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            types[name] = kind
            continue
        if line.startswith("# HELP ") or not line:
            continue
        match = SAMPLE.match(line)
        assert match, f"not Prometheus text format: {line!r}"
        name, _, labels, value = match.groups()
        pairs = frozenset(LABEL.findall(labels or ""))
        key = (name, pairs)
        assert key not in samples, f"sample twice: {line!r}"
        samples[key] = float(value.replace("+Inf", "inf"))
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or family in types, f"no TYPE for {name}"
    return samples, types


async def scrape(bot: Bot) -> tuple[Samples, dict[str, str]]:
    response = await bot.client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(await response.text())


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_follow_what_happens(bot: Bot) -> None:
    before, _ = await scrape(bot)
    bot.fake.fault("message/send", errcode=-1)             # WeCom busy once
    await fill_leave(bot, "2")
    assert (await bot.wecom.deliver("<xml>unreadable", retries=0)).statuses == [400]
    tampered = await bot.client.post("/wecom/callback?msg_signature=x&timestamp=1&nonce=1",
                                     data=b"<xml/>")
    assert tampered.status == 403
    await outbox.enqueue(channel="wecom", user_id="someone_who_left",
                         payload={"type": "text", "text": "通知"}, now=bot.clock.now())
    await bot.settle()                                     # 81013: a dead letter
    await outbox.enqueue(channel="wecom", user_id=HEAD, payload={"type": "text", "text": "x"},
                         now=bot.clock.now() - timedelta(minutes=3))
    bot.clock.advance(timedelta(days=10))                  # the head has not decided
    after, types = await scrape(bot)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("campusbot_callbacks_total", channel="wecom", result="accepted") == 9
    assert grew("campusbot_callbacks_total", channel="wecom", result="bad_request") == 1
    assert grew("campusbot_callbacks_total", channel="wecom", result="forbidden") == 1
    assert grew("campusbot_turns_total", result="done") == 9
    assert grew("campusbot_turn_duration_seconds_count") == 9
    assert grew("campusbot_turn_duration_seconds_sum") > 0
    assert grew("campusbot_api_errors_total", channel="wecom", code="-1") == 1
    assert grew("campusbot_api_errors_total", channel="wecom", code="81013") == 1
    assert grew("campusbot_outbox_deliveries_total", channel="wecom", outcome="dead") == 1
    assert value(after, "campusbot_dead_letters") == 1
    assert value(after, "campusbot_outbox_depth", channel="wecom") >= 1
    assert value(after, "campusbot_outbox_oldest_age_seconds") >= 10 * 24 * 3600
    assert value(after, "campusbot_applications_open", status="pending") == 1
    assert value(after, "campusbot_approvals_overdue") == 1
    assert value(after, "campusbot_inbound_waiting") == 0
    assert value(after, "campusbot_database_up") == 1
    assert types["campusbot_turn_duration_seconds"] == "histogram"
    assert types["campusbot_callbacks_total"] == "counter"
    assert types["campusbot_outbox_depth"] == "gauge"
    buckets = sorted(((float(dict(labels)["le"].replace("+Inf", "inf")), v)
                      for (name, labels), v in after.items()
                      if name == "campusbot_turn_duration_seconds_bucket"))
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)   # cumulative
    assert buckets[-1] == (float("inf"), value(after, "campusbot_turn_duration_seconds_count"))


def test_label_values_are_escaped() -> None:
    counter = metrics.Counter("campusbot_test_total", "A test.")
    counter.inc(code='say "hi"\\\n')
    samples, _ = parse("\n".join(counter.lines()))
    assert samples == {("campusbot_test_total",
                        frozenset({("code", 'say \\"hi\\"\\\\\\n')})): 1.0}
