"""JSON logs (`[log] format = "json"`): one JSON object per line that a log collector reads,
with the traceback when there is one; a real `campusbot` process writes them."""

from __future__ import annotations

import json
import logging
import signal
import sys

import aiohttp
import pytest

from bot.config import ConfigError, build_settings
from bot.logs import JsonFormatter
from tests.processes import processes


def test_a_record_is_one_line_of_json_with_its_traceback() -> None:
    try:
        raise ValueError("数据库没有回答")
    except ValueError:
        record = logging.getLogger("campusbot.outbox").makeRecord(
            "campusbot.outbox", logging.ERROR, __file__, 1, "outbox message %s to %s failed",
            (42, "zhang_t"), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "campusbot.outbox"
    assert entry["message"] == "outbox message 42 to zhang_t failed"
    assert "ValueError: 数据库没有回答" in entry["exception"]
    assert entry["time"].endswith("+00:00")


def test_the_format_is_checked() -> None:
    assert build_settings({"log": {"format": "json"}}, {}).log.format == "json"
    with pytest.raises(ConfigError, match=r"log\.format: 应为 text 或 json"):
        build_settings({"log": {"format": "xml"}}, {})


async def test_a_server_logs_json_lines_when_asked(database_url: str) -> None:
    with processes(database_url, {"CAMPUSBOT_LOG__FORMAT": "json",
                                  "CAMPUSBOT_LOG__LEVEL": "INFO"}) as started:
        url = await started.serve()
        async with aiohttp.ClientSession() as session, session.post(   # one turn, logged
                f"{url}/sim/api/messages", json={"user": "zhang_t", "text": "帮助"}) as response:
            assert response.status == 200
        server = started.running[0]
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        lines = [line for line in started.log_of(server).splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]      # every line is JSON
    turns = [e for e in entries if e["message"].startswith("turn done")]
    assert len(turns) == 1 and turns[0]["level"] == "INFO" and "user=zhang_t" in \
        turns[0]["message"]
    assert "我可以帮您" not in "".join(lines)           # what was said is not logged
