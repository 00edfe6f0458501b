"""The consent decision record (events.DecisionRecord): encoded to JSON once per decision, and
stored, carried to the store process and read exactly as the plain dict it replaced."""

from __future__ import annotations

import asyncio
import gc
import json
import pickle
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import msgspec
import pytest

from convtrack.config import Settings
from convtrack.enrich.privacy import ConsentGate, explain_record
from convtrack.events import Consent, Context, DecisionRecord, Event, dec_hook, enc_hook
from convtrack.forward.routing import consent_allows
from convtrack.store.arrow import COLUMN_NAMES, column_values
from convtrack.store.process import StoreProcess

NOW = datetime(2024, 5, 1, tzinfo=UTC)
VECTOR = "CP4bJcAP4bJcAAKACBENCWEoALIAAEHAAAYgF5wAgABALzAvOACAvMAA.IAAA.YAAAAAAAAAAA"
SIGNALS = [
    (None, None),
    (None, "DE"),
    (Consent(ad_storage="granted", ad_user_data="granted", analytics_storage="granted"), "US"),
    (Consent(ad_storage="denied", analytics_storage="granted"), "FR"),
    (Consent(analytics_storage="denied", ad_storage="denied"), "DE"),
    (Consent(gpc=True), "US"),
    (Consent(tcf=VECTOR), "DE"),
    (Consent(tcf="not-a-tc-string"), "DE"),
]


def event(event_id: str, consent: Consent | None = None) -> Event:
    return Event(
        event_id=event_id, event_name="purchase", type="conversion", source="server",
        occurred_at=NOW, received_at=NOW, anonymous_id="anon-1",
        context=Context(ip="203.0.113.77"), consent=consent,
    )  # fmt: skip


def old_record(gate: ConsentGate, consent: Consent | None, region: str | None) -> dict[str, Any]:
    """The dict the gate stored before records carried their JSON (and plain dicts still can)."""
    record = gate.outcome(consent, region).record
    return {key: record[key] for key in record}


def decided() -> list[Event]:
    gate = ConsentGate(Settings())
    out = []
    for i, (consent, region) in enumerate(SIGNALS):
        e = gate.apply(event(f"e{i}", consent), region)
        if e is not None:
            out.append(e)
    return out


def column(events: list[Event], name: str) -> list[Any]:
    return column_values(events)[COLUMN_NAMES.index(name)]


def test_a_record_is_its_dict_and_its_json_is_that_dict_encoded() -> None:
    gate = ConsentGate(Settings())
    for consent, region in SIGNALS:
        record = gate.outcome(consent, region).record
        plain = old_record(gate, consent, region)
        assert record == plain and dict(record) == plain and len(record) == len(plain)
        assert record.json == msgspec.json.encode(plain).decode()
        assert json.loads(record.json) == plain
        assert gate.outcome(consent, region).record is record  # encoded once per decision


def test_the_stored_column_is_the_json_of_the_dict_a_plain_dict_gives_the_same() -> None:
    events = decided()
    assert len(events) >= 6
    gate = ConsentGate(Settings())
    expected = [
        msgspec.json.encode(old_record(gate, c, r)).decode()
        for c, r in SIGNALS
        if gate.outcome(c, r).store
    ]
    assert column(events, "consent_decision") == expected
    as_dicts = [
        msgspec.structs.replace(e, consent_decision=dict(e.consent_decision or {})) for e in events
    ]
    assert column(as_dicts, "consent_decision") == expected
    assert column([event("none")], "consent_decision") == [None]
    assert column([msgspec.structs.replace(event("x"), consent_decision=DecisionRecord("{}"))],
                  "consent_decision") == [None]  # fmt: skip


def test_the_wire_to_the_store_process_carries_the_text_and_readers_still_work() -> None:
    events = decided()
    encode = msgspec.msgpack.Encoder(enc_hook=enc_hook).encode
    decoded = msgspec.msgpack.Decoder(list[Event], dec_hook=dec_hook).decode(encode(events))
    for before, after in zip(events, decoded, strict=True):
        assert before.consent_decision is not None
        assert isinstance(after.consent_decision, DecisionRecord)
        assert after.consent_decision.json == before.consent_decision.json
        assert after.consent_decision == before.consent_decision  # decoded lazily, equal
        assert explain_record(after.consent_decision) == explain_record(before.consent_decision)
    assert column(decoded, "consent_decision") == column(events, "consent_decision")
    # A plain dict (as tests build events) crosses too and arrives as a record.
    plain = msgspec.structs.replace(events[0], consent_decision={"destinations": ["ga4"]})
    (back,) = msgspec.msgpack.Decoder(list[Event], dec_hook=dec_hook).decode(encode([plain]))
    assert back.consent_decision == {"destinations": ["ga4"]}
    record = events[0].consent_decision
    assert pickle.loads(pickle.dumps(record)) == record  # store calls pickle their arguments


def test_forward_routing_reads_the_allowed_destinations_from_a_decoded_record() -> None:
    ga4 = cast(Any, SimpleNamespace(consent_required=("analytics_storage",)))
    meta = cast(Any, SimpleNamespace(consent_required=("ad_user_data",)))
    text = DecisionRecord.of({"destinations": ["ga4"], "analytics": "full"}).json
    e = msgspec.structs.replace(event("r"), consent_decision=DecisionRecord(text))
    assert consent_allows(e, "ga4", ga4) and not consent_allows(e, "meta", meta)


def test_records_cannot_be_changed_in_place() -> None:
    record = decided()[0].consent_decision
    assert record is not None
    with pytest.raises(TypeError):
        record["ads"] = "full"  # type: ignore[index]


def test_events_are_not_tracked_by_the_cycle_collector() -> None:
    e = decided()[0]
    assert not gc.is_tracked(e) and not gc.is_tracked(e.context)


def test_the_store_process_stores_the_same_json(tmp_path: Path) -> None:
    events = decided()
    proc = StoreProcess(
        f"duckdb://{tmp_path}/records.duckdb",
        {"max_events": 1000, "interval": 0.002, "queue_max_events": 1000},
        queue_max_events=1000,
    )
    try:
        proc.store.migrate()
        asyncio.run(proc.writer.write(events))
        rows = proc.store.query(
            "SELECT event_id, CAST(consent_decision AS VARCHAR) AS d FROM events ORDER BY event_id"
        ).rows
    finally:
        proc.stop()
    stored = dict(rows)
    for e in events:
        assert e.consent_decision is not None
        assert json.loads(stored[e.event_id]) == dict(e.consent_decision)
