"""Outbox transports (activities/channels/outbox.py) and SMS segment arithmetic
(activities/sms_segments.py)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from activities.channels.base import Delivery, OutgoingMessage
from activities.channels.outbox import FileOutbox, MemoryOutbox, message_id_for
from activities.sms_segments import (
    GSM7_BASIC,
    GSM7_EXTENDED,
    SegmentCount,
    count_segments,
    is_gsm7,
    sms_safe,
)
from config.ladder import Channel


def message(key: str = "dunning-A-1001/courtesy-email/1", **changes) -> OutgoingMessage:
    base = OutgoingMessage(
        idempotency_key=key,
        account_id="A-1001",
        step="courtesy-email",
        channel=Channel.EMAIL,
        to="claire.martin@example.org",
        template="courtesy",
        locale="fr",
        subject="Votre facture",
        text="Bonjour Claire, il reste 120,50\u00a0€ à régler.",
        html="<p>Bonjour Claire</p>",
        sent_at="2038-01-05T08:52:00Z",
        metadata={"deadline": "2038-01-12"},
    )
    return replace(base, **changes)


def stored_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.json"))


# --- FileOutbox ----------------------------------------------------------------------------------


async def test_file_outbox_same_key_twice_stores_one_file_and_flags_duplicate(tmp_path: Path):
    outbox = FileOutbox(tmp_path)
    first = await outbox.deliver(message())
    second = await outbox.deliver(message())
    assert first == Delivery(message_id_for("dunning-A-1001/courtesy-email/1"), duplicate=False)
    assert second.duplicate is True
    assert second.message_id == first.message_id
    assert len(stored_files(tmp_path)) == 1


async def test_file_outbox_duplicate_returns_the_stored_id_even_if_text_changed(tmp_path: Path):
    outbox = FileOutbox(tmp_path)
    first = await outbox.deliver(message())
    again = await outbox.deliver(message(text="a re-rendered text"))
    assert again == Delivery(first.message_id, duplicate=True)
    [path] = stored_files(tmp_path)
    assert json.loads(path.read_text(encoding="utf-8"))["text"] == message().text


async def test_file_outbox_different_keys_store_two_files(tmp_path: Path):
    outbox = FileOutbox(tmp_path)
    first = await outbox.deliver(message("key-1"))
    second = await outbox.deliver(message("key-2"))
    assert first.message_id != second.message_id
    assert not first.duplicate and not second.duplicate
    assert len(stored_files(tmp_path)) == 2


async def test_file_outbox_file_is_json_with_every_message_field(tmp_path: Path):
    outbox = FileOutbox(tmp_path)
    delivery = await outbox.deliver(message())
    [path] = stored_files(tmp_path)
    assert path.parent == tmp_path / "A-1001"
    assert path.name.startswith("courtesy-email.email.")
    assert path == outbox.path_for(message())
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record == {
        "message_id": delivery.message_id,
        "idempotency_key": "dunning-A-1001/courtesy-email/1",
        "account_id": "A-1001",
        "step": "courtesy-email",
        "channel": "email",
        "to": "claire.martin@example.org",
        "template": "courtesy",
        "locale": "fr",
        "subject": "Votre facture",
        "text": "Bonjour Claire, il reste 120,50\u00a0€ à régler.",
        "html": "<p>Bonjour Claire</p>",
        "sent_at": "2038-01-05T08:52:00Z",
        "metadata": {"deadline": "2038-01-12"},
        "ladder": "",
        "jurisdiction": "",
        "recipient_name": "",
        "postal_lines": [],
        "not_after": None,
    }
    # Non-ASCII kept readable in the file (ensure_ascii=False).
    assert "à régler" in path.read_text(encoding="utf-8")


async def test_file_outbox_leaves_no_temp_files(tmp_path: Path):
    outbox = FileOutbox(tmp_path)
    await outbox.deliver(message())
    await outbox.deliver(message())
    assert [p.name for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".json"] == []


async def test_file_outbox_concurrent_deliveries_of_one_key_store_one_file(tmp_path: Path):
    outbox = FileOutbox(tmp_path)
    results = await asyncio.gather(*(outbox.deliver(message()) for _ in range(2)))
    assert len(stored_files(tmp_path)) == 1
    assert {result.message_id for result in results} == {message_id_for(message().idempotency_key)}
    assert sorted(result.duplicate for result in results) == [False, True]


async def test_file_outbox_two_instances_on_one_directory_store_one_file(tmp_path: Path):
    results = await asyncio.gather(
        FileOutbox(tmp_path).deliver(message()), FileOutbox(tmp_path).deliver(message())
    )
    assert len(stored_files(tmp_path)) == 1
    assert sorted(result.duplicate for result in results) == [False, True]


async def test_file_outbox_lost_race_on_link_reports_duplicate(tmp_path: Path, monkeypatch):
    # Simulate a second worker creating the file between the exists() check and os.link().
    outbox = FileOutbox(tmp_path)
    target = outbox.path_for(message())
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({"message_id": "winner"}), encoding="utf-8")
    monkeypatch.setattr(Path, "exists", lambda self: False)
    delivery = await outbox.deliver(message())
    monkeypatch.undo()
    assert delivery.duplicate is True
    assert delivery.message_id == message_id_for(message().idempotency_key)
    assert json.loads(target.read_text(encoding="utf-8")) == {"message_id": "winner"}
    assert [p.name for p in target.parent.iterdir()] == [target.name]


async def test_file_outbox_unsafe_account_and_step_names_stay_inside_the_directory(
    tmp_path: Path,
):
    outbox = FileOutbox(tmp_path / "outbox")
    evil = message(account_id="../../etc", step="a/b c")
    await outbox.deliver(evil)
    [path] = stored_files(tmp_path)
    assert path.is_relative_to(tmp_path / "outbox")
    assert path.parent.name == ".._.._etc"
    assert path.name.startswith("a_b_c.email.")


async def test_file_outbox_messages_lists_every_stored_message_oldest_first(tmp_path: Path):
    outbox = FileOutbox(tmp_path)
    await outbox.deliver(message("late", sent_at="2038-01-06T09:00:00Z", account_id="A-2"))
    await outbox.deliver(message("early", sent_at="2038-01-05T09:00:00Z"))
    await outbox.deliver(message("early", sent_at="2038-01-05T09:00:00Z"))
    assert [record["idempotency_key"] for record in outbox.messages()] == ["early", "late"]


# --- MemoryOutbox --------------------------------------------------------------------------------


async def test_memory_outbox_same_key_twice_stores_one_and_counts_two_deliveries():
    outbox = MemoryOutbox()
    first = await outbox.deliver(message())
    second = await outbox.deliver(message())
    assert first == Delivery(message_id_for(message().idempotency_key), duplicate=False)
    assert second == Delivery(first.message_id, duplicate=True)
    assert outbox.deliveries == 2
    assert len(outbox.messages()) == 1


async def test_memory_outbox_different_keys_store_two():
    outbox = MemoryOutbox()
    await outbox.deliver(message("key-1"))
    await outbox.deliver(message("key-2", account_id="A-2"))
    assert outbox.deliveries == 2
    assert len(outbox.messages()) == 2
    assert [record["idempotency_key"] for record in outbox.messages("A-2")] == ["key-2"]


async def test_memory_outbox_concurrent_deliveries_of_one_key_store_one():
    outbox = MemoryOutbox()
    results = await asyncio.gather(*(outbox.deliver(message()) for _ in range(3)))
    assert outbox.deliveries == 3
    assert len(outbox.messages()) == 1
    assert sorted(result.duplicate for result in results) == [False, True, True]


async def test_memory_outbox_record_has_message_fields_and_id():
    outbox = MemoryOutbox()
    delivery = await outbox.deliver(message())
    [record] = outbox.messages()
    assert record == {"message_id": delivery.message_id, **message().as_record()}
    assert record["channel"] == "email"


def test_message_id_is_stable_and_depends_only_on_the_key():
    assert message_id_for("k") == message_id_for("k")
    assert message_id_for("k") != message_id_for("k2")
    assert message_id_for("k").startswith("outbox-")
    assert len(message_id_for("k")) == len("outbox-") + 20


# --- SMS segments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "segments"),
    [(0, 0), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_text_uses_160_then_153_septets_per_segment(length: int, segments: int):
    assert count_segments("a" * length) == SegmentCount("GSM-7", length, segments)


def test_euro_sign_counts_two_septets_and_stays_gsm7():
    assert count_segments("€") == SegmentCount("GSM-7", 2, 1)
    assert count_segments("a" * 158 + "€") == SegmentCount("GSM-7", 160, 1)
    assert count_segments("a" * 159 + "€") == SegmentCount("GSM-7", 161, 2)


@pytest.mark.parametrize("char", list(GSM7_EXTENDED))
def test_every_extended_character_counts_two_septets(char: str):
    assert count_segments(char).units == 2
    assert is_gsm7(char)


def test_one_l_with_stroke_switches_the_whole_text_to_ucs2():
    assert not is_gsm7("ł")
    assert count_segments("ł") == SegmentCount("UCS-2", 1, 1)
    assert count_segments("a" * 69 + "ł") == SegmentCount("UCS-2", 70, 1)
    assert count_segments("a" * 70 + "ł") == SegmentCount("UCS-2", 71, 2)
    assert count_segments("a" * 133 + "ł") == SegmentCount("UCS-2", 134, 2)
    assert count_segments("a" * 134 + "ł") == SegmentCount("UCS-2", 135, 3)


def test_euro_sign_in_ucs2_counts_one_unit():
    assert count_segments("ł€").units == 2


def test_emoji_counts_two_utf16_units():
    assert count_segments("😀") == SegmentCount("UCS-2", 2, 1)
    assert count_segments("😀" * 35) == SegmentCount("UCS-2", 70, 1)
    assert count_segments("😀" * 36).segments == 2


def test_gsm7_letters_with_accents_stay_gsm7():
    assert is_gsm7("éèùìòÇÄÖÑÜäöñüàßÆæ£¥§¿¡")
    assert is_gsm7("Bonjour, il reste 120,50 EUR à régler.")
    assert len(GSM7_BASIC) == 128


@pytest.mark.parametrize("char", ["ç", "ê", "á", "ó", "ł", "ś", "€\u00a0", "’", "–", "`"])
def test_characters_outside_gsm7_are_detected(char: str):
    assert not is_gsm7(char)


def test_escape_sequence_straddling_a_segment_boundary_needs_another_segment():
    assert count_segments("a" * 152 + "€" + "a" * 152).segments == 3


def test_surrogate_pair_straddling_a_segment_boundary_needs_another_segment():
    assert count_segments("ł" * 66 + "😀" + "ł" * 66).segments == 3


def test_sms_safe_turns_typography_into_ascii():
    text = "120,50\u00a0€ \u2013 1\u202f200 \u2018ok\u2019 \u201cpay\u201d"
    assert sms_safe(text) == "120,50 € - 1 200 'ok' \"pay\""


@pytest.mark.parametrize(
    ("typographic", "plain"),
    [
        ("\u00a0", " "),
        ("\u202f", " "),
        ("\u2009", " "),
        ("\u2018", "'"),
        ("\u2019", "'"),
        ("\u201c", '"'),
        ("\u201d", '"'),
        ("\u00ab", '"'),
        ("\u00bb", '"'),
        ("\u2013", "-"),
        ("\u2014", "-"),
        ("\u2026", "..."),
    ],
)
def test_sms_safe_maps_each_typographic_character(typographic: str, plain: str):
    assert sms_safe(typographic) == plain
    assert is_gsm7(sms_safe(typographic))


def test_sms_safe_brings_a_babel_amount_back_to_gsm7_and_one_segment():
    text = "Il reste 120,50\u00a0€ à régler avant le 12\u202fjanvier \u2013 merci\u2019"
    assert not is_gsm7(text)
    safe = sms_safe(text)
    assert is_gsm7(safe)
    assert count_segments(safe).encoding == "GSM-7"


def test_sms_safe_leaves_other_text_alone():
    assert sms_safe("Dzień dobry, łódź") == "Dzień dobry, łódź"
    assert sms_safe("") == ""
