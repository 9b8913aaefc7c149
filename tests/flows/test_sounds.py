"""Characters of the same sound: what a phone's input method offers first."""

from __future__ import annotations

from flows.sounds import differing, readings, sounds_alike


def test_readings_ignore_tones_and_keep_every_reading() -> None:
    assert readings("假") >= {"jia"}
    assert readings("还") >= {"hai", "huan"}
    assert readings("a") == frozenset()


def test_typos_picked_by_sound_sound_alike() -> None:
    assert sounds_alike("请假", "请价")
    assert sounds_alike("录播教室", "录拨教室")
    assert sounds_alike("采访", "採访")           # a variant form of the character


def test_other_sounds_or_lengths_do_not() -> None:
    assert not sounds_alike("复学", "休学")
    assert not sounds_alike("请假", "请假条")
    assert differing("复学申请", "付学申请") == 1
