"""Real `campusbot serve` and `campusbot worker` processes for the tests that need several."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO

import aiohttp

from tests.bot.channels.wecom.conftest import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wecom_env(api_base: str) -> dict[str, str]:
    """The WeCom channel on, pointed at a fake WeCom; the simulator off."""
    return {"CAMPUSBOT_SIMULATOR__ENABLED": "false", "CAMPUSBOT_WECOM__ENABLED": "true",
            "CAMPUSBOT_WECOM__CORP_ID": CORP_ID, "CAMPUSBOT_WECOM__AGENT_ID": str(AGENT_ID),
            "CAMPUSBOT_WECOM__SECRET": SECRET, "CAMPUSBOT_WECOM__TOKEN": TOKEN,
            "CAMPUSBOT_WECOM__ENCODING_AES_KEY": AES_KEY, "CAMPUSBOT_WECOM__API_BASE": api_base,
            "CAMPUSBOT_DIRECTORY__ALLOW_DEMO": "true"}


class Processes:
    """Starts campusbot processes on one database; stops them all at the end."""

    def __init__(self, database_url: str, env: Mapping[str, str] | None = None) -> None:
        self.env = {**os.environ, "CAMPUSBOT_DATABASE__URL": database_url,
                    "CAMPUSBOT_LOG__LEVEL": "WARNING", **(env or {})}
        self.running: list[subprocess.Popen[bytes]] = []
        self.logs: dict[int, IO[bytes]] = {}

    def _start(self, command: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        # the log goes to a file, not a pipe: a pipe nobody reads fills up (64 KiB of warnings
        # under faults) and the process then blocks on its next log line, users left waiting
        log = tempfile.TemporaryFile()   # noqa: SIM115 (closed by stop_all)
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", command],
                                   env={**self.env, **env}, stdout=subprocess.DEVNULL,
                                   stderr=log)
        self.running.append(process)
        self.logs[process.pid] = log
        return process

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        """What the process logged so far (its stderr)."""
        log = self.logs[process.pid]
        log.seek(0)
        return log.read().decode("utf-8", "replace")

    async def serve(self, **env: str) -> str:
        """A server; returns its base URL once it answers /healthz."""
        port = free_port()
        process = self._start("serve", {"CAMPUSBOT_SERVER__PORT": str(port), **env})
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(url, process, lambda: self.log_of(process))
        return url

    def worker(self, **env: str) -> subprocess.Popen[bytes]:
        return self._start("worker", env)

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running:
            process.wait(timeout=15)
        for log in self.logs.values():
            log.close()


@contextmanager
def processes(database_url: str, env: Mapping[str, str] | None = None) -> Iterator[Processes]:
    started = Processes(database_url, env)
    try:
        yield started
    finally:
        started.stop_all()


#: a start-up takes a few seconds of CPU (the search index, every flow's machine); on a loaded
#: machine (a CI runner running other tests) many times that
START_SECONDS = 120.0


async def wait_healthy(url: str, process: subprocess.Popen[bytes],
                       log: Callable[[], str] = str) -> None:
    """Until the server at `url` answers /healthz; its `log` in the error if it never does."""
    deadline = time.monotonic() + START_SECONDS
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(log())
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} did not start in {START_SECONDS:.0f} s:\n{log()}")
