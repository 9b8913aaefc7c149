"""Robot messages and card callbacks as DingTalk sends them → the neutral events campusbot acts
on; what lacks a sender or an id is refused."""

from __future__ import annotations

import json

import pytest

from bot.channels.dingtalk.messages import MessageError, card_tap, robot_message

BASE = {"msgId": "msgX1", "senderStaffId": "0451", "senderId": "$:LWCP_v1:$abc",
        "conversationType": "1", "senderPlatform": "Mac", "openThreadId": "t"}


def test_text_is_trimmed_and_keyed_on_the_msg_id() -> None:
    incoming = robot_message({**BASE, "msgtype": "text", "text": {"content": "  我要请假 "}})
    assert incoming is not None
    assert (incoming.kind, incoming.text, incoming.user_id) == ("text", "我要请假", "0451")
    assert incoming.dedupe_key == "msg:msgX1"


def test_rich_text_reads_as_its_words_and_a_picture_as_a_file() -> None:
    rich = robot_message({**BASE, "msgtype": "richText", "content": {"richText": [
        {"text": "病假"}, {"type": "picture", "downloadCode": "dc1"}, {"text": "，发烧"}]}})
    assert rich is not None and (rich.kind, rich.text) == ("text", "病假，发烧")
    picture = robot_message({**BASE, "msgtype": "picture",
                             "content": {"downloadCode": "dc2"}})
    assert picture is not None and picture.kind == "file"
    assert picture.attachment is not None and picture.attachment.media_id == "dc2"
    only_picture = robot_message({**BASE, "msgtype": "richText", "content": {"richText": [
        {"type": "picture", "downloadCode": "dc3"}]}})
    assert only_picture is not None and only_picture.attachment is not None
    assert only_picture.attachment.media_id == "dc3"


def test_voice_is_read_by_its_transcription_else_unsupported() -> None:
    spoken = robot_message({**BASE, "msgtype": "audio",
                            "content": {"recognition": "我要请假", "duration": 2}})
    assert spoken is not None and (spoken.kind, spoken.text) == ("text", "我要请假")
    silent = robot_message({**BASE, "msgtype": "audio", "content": {"duration": 2}})
    video = robot_message({**BASE, "msgtype": "video", "content": {}})
    assert silent is not None and video is not None
    assert silent.kind == video.kind == "unsupported"


@pytest.mark.parametrize("missing", ["msgId", "senderStaffId"])
def test_a_message_without_sender_or_id_is_refused(missing: str) -> None:
    message = {**BASE, "msgtype": "text", "text": {"content": "x"}}
    del message[missing]
    with pytest.raises(MessageError):
        robot_message(message)


def test_a_card_callback_reads_its_action_from_the_params_or_the_action_ids() -> None:
    content = {"cardPrivateData": {"actionIds": ["btn_1"], "params": {"action": "reject"}}}
    tap = card_tap({"outTrackId": "cb1", "userId": "0452", "content": json.dumps(content)})
    assert (tap.out_track_id, tap.user_id, tap.action) == ("cb1", "0452", "reject")
    bare = card_tap({"outTrackId": "cb1", "userId": "0452",
                     "content": json.dumps({"cardPrivateData": {"actionIds": ["approve"]}})})
    assert bare.action == "approve"
    with pytest.raises(MessageError):
        card_tap({"outTrackId": "cb1", "userId": "0452", "content": "{not json"})
    with pytest.raises(MessageError):
        card_tap({"outTrackId": "cb1", "userId": "0452", "content": "{}"})


def test_which_api_errors_are_retried() -> None:
    from bot.channels.dingtalk.errors import DingtalkApiError

    def retried(status: int, code: str, message: str = "") -> bool:
        return DingtalkApiError("/x", status=status, code=code, message=message).retryable

    assert retried(403, "Forbidden.AccessDenied.QpsLimitForApi")
    assert retried(403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi")
    assert retried(503, "") and retried(401, "InvalidAuthentication")
    assert retried(200, "90018") and retried(200, "88", "系统繁忙")
    assert not retried(200, "88", "ding talk error[subcode=60011,submsg=missing permission]")
    assert not retried(403, "Forbidden.AccessDenied.AccessTokenPermissionDenied")
    assert not retried(400, "invalidParameter.userIds.overMax")
