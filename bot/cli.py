"""The `campusbot` command.

    campusbot serve [--config PATH]            run the bot (callback server, simulator, jobs)
    campusbot worker [--config PATH]           run turns, outbox and jobs for servers with
                                                [server] run_turns = false
    campusbot chat --as USER [--url URL]        chat in the terminal through the running server
    campusbot flows check [PATH]                validate flow files, every problem at once
    campusbot directory check [--format F]      who gets every stage, and what is missing
    campusbot directory sync [--channel NAME]   contacts from the enabled channels
    campusbot dingtalk check [--config PATH]    the [dingtalk] settings, asked of DingTalk
    campusbot outbox dead | retry ID            messages given up (dead letters); send again
    campusbot delegate set|list|cancel ...      an approver's delegation (administrators)
    (see bot/cli_flows.py for the other flow tools)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot import (
    cli_chat,
    cli_delegate,
    cli_dingtalk,
    cli_directory,
    cli_flows,
    cli_outbox,
    cli_wecom,
)
from bot.config import ConfigError, Settings, load_settings
from bot.logs import configure


def settings_from(args: argparse.Namespace) -> Settings:
    try:
        return load_settings(getattr(args, "config", None))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from exc


def serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.app import create_app
    from flows.problems import FlowFileError
    from storage.directory_file import DirectoryFileError

    settings = settings_from(args)
    configure(settings.log.level)
    print(f"campusbot 启动：http://{settings.server.host}:{settings.server.port}"
          + ("  模拟器：/sim" if settings.simulator.enabled else ""))
    try:
        web.run_app(create_app(settings), host=settings.server.host, port=settings.server.port,
                    print=None)
    except (FlowFileError, DirectoryFileError) as exc:
        print(f"启动失败：\n{exc}", file=sys.stderr)
        return 2
    return 0


def worker(args: argparse.Namespace) -> int:
    from bot.worker import run_worker
    from flows.problems import FlowFileError
    from storage.directory_file import DirectoryFileError

    settings = settings_from(args)
    configure(settings.log.level)
    print("campusbot worker 启动：处理对话、发送消息、运行定时任务")
    try:
        run_worker(settings)
    except (FlowFileError, DirectoryFileError) as exc:
        print(f"启动失败：\n{exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="campusbot", description="网上办事大厅聊天机器人")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="启动机器人服务")
    serve_parser.add_argument("--config", help="配置文件（默认 ./config.toml 或内置默认值）")
    serve_parser.set_defaults(func=serve)

    worker_parser = commands.add_parser(
        "worker", help="只处理对话、消息发送和定时任务（配合 run_turns = false 的服务）")
    worker_parser.add_argument("--config", help="配置文件（默认 ./config.toml 或内置默认值）")
    worker_parser.set_defaults(func=worker)

    chat_parser = commands.add_parser("chat", help="在终端里以某个用户身份聊天（经由模拟器）")
    chat_parser.add_argument("--as", dest="user", required=True, help="用户 id，例如 zhang_t")
    chat_parser.add_argument("--url", default="http://127.0.0.1:8080", help="campusbot 服务地址")
    chat_parser.set_defaults(func=cli_chat.run)

    cli_flows.register(commands)
    cli_wecom.register(commands)
    cli_dingtalk.register(commands)
    cli_directory.register(commands)
    cli_outbox.register(commands)
    cli_delegate.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
