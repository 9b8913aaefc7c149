"""Plaintext callback XML as WeCom sends it (doc 90239 messages, doc 90240 events)."""

from __future__ import annotations


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _xml(corp_id: str, user: str, create_time: int, msg_type: str, agent_id: int,
         fields: dict[str, str | int]) -> str:
    parts = [f"<ToUserName>{cdata(corp_id)}</ToUserName>",
             f"<FromUserName>{cdata(user)}</FromUserName>",
             f"<CreateTime>{create_time}</CreateTime>",
             f"<MsgType>{cdata(msg_type)}</MsgType>"]
    for name, value in fields.items():
        parts.append(f"<{name}>{value if isinstance(value, int) else cdata(value)}</{name}>")
    parts.append(f"<AgentID>{agent_id}</AgentID>")
    return "<xml>" + "".join(parts) + "</xml>"


def message(corp_id: str, agent_id: int, user: str, create_time: int, msg_type: str,
            msg_id: int, **fields: str | int) -> str:
    return _xml(corp_id, user, create_time, msg_type, agent_id, {**fields, "MsgId": msg_id})


def event(corp_id: str, agent_id: int, user: str, create_time: int, name: str,
          **fields: str | int) -> str:
    return _xml(corp_id, user, create_time, "event", agent_id, {"Event": name, **fields})


def envelope(corp_id: str, agent_id: int, encrypt: str) -> bytes:
    return (f"<xml><ToUserName>{cdata(corp_id)}</ToUserName><Encrypt>{cdata(encrypt)}</Encrypt>"
            f"<AgentID>{cdata(str(agent_id))}</AgentID></xml>").encode()
