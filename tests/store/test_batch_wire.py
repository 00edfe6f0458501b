"""Appends on their way to the store process (store.process.encode_jobs / decode_jobs): each
distinct consent decision record crosses once per message, and the events arrive as they
would have with every record carried as its JSON text."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from convtrack.config import Settings
from convtrack.enrich.privacy import ConsentGate
from convtrack.events import Consent, Context, DecisionRecord, Event, Rejected, dec_hook, enc_hook
from convtrack.store.arrow import to_arrow
from convtrack.store.process import Jobs, decode_jobs, encode_jobs

NOW = datetime(2024, 5, 1, tzinfo=UTC)
SIGNALS = [
    (None, None),
    (Consent(ad_storage="granted", ad_user_data="granted", analytics_storage="granted"), "US"),
    (Consent(ad_storage="denied", analytics_storage="granted"), "FR"),
    (Consent(gpc=True), "US"),
]


def events(n: int) -> list[Event]:
    gate = ConsentGate(Settings())
    out = []
    for i in range(n):
        consent, region = SIGNALS[i % len(SIGNALS)]
        e = Event(
            event_id=f"e{i}", event_name="purchase", type="conversion", source="server",
            occurred_at=NOW, received_at=NOW, anonymous_id=f"anon-{i}",
            context=Context(ip="203.0.113.77"), consent=consent,
        )  # fmt: skip
        decided = gate.apply(e, region)
        assert decided is not None
        out.append(decided)
    return out


def as_text(jobs: Jobs) -> Jobs:
    """The jobs as they crossed before: every record as its own JSON text."""
    old = msgspec.msgpack.Encoder(enc_hook=enc_hook).encode(jobs)
    return msgspec.msgpack.Decoder(Jobs, dec_hook=dec_hook).decode(old)


def test_each_record_crosses_once_and_events_share_it_on_arrival() -> None:
    first, second = events(40), events(8)
    rejected = [Rejected(reject_id="r1", received_at=NOW, source="server", payload="{}",
                         reasons=[{"code": "x"}])]  # fmt: skip
    jobs: Jobs = [(1, first, rejected), (2, second, [])]
    texts, payload = encode_jobs(jobs)
    assert sorted(texts) == sorted({e.consent_decision.json for e in first if e.consent_decision})
    assert len(texts) == len(SIGNALS)
    arrived = decode_jobs(texts, payload)
    assert [(req, len(evs), rej) for req, evs, rej in arrived] == [(1, 40, rejected), (2, 8, [])]
    records = {id(e.consent_decision) for _, evs, _ in arrived for e in evs}
    assert len(records) == len(SIGNALS)  # one object per distinct record
    before = as_text(jobs)
    for (_, old, _), (_, new, _) in zip(before, arrived, strict=True):
        assert to_arrow(new).equals(to_arrow(old))
        assert msgspec.json.encode(new, enc_hook=enc_hook) == msgspec.json.encode(
            old, enc_hook=enc_hook
        )
    assert all(isinstance(e.consent_decision, DecisionRecord) for e in arrived[0][1])


def test_plain_dict_records_and_missing_ones_cross_too() -> None:
    (e,) = events(1)
    plain = msgspec.structs.replace(e, event_id="plain", consent_decision={"ads": "full"})
    none = msgspec.structs.replace(e, event_id="none", consent_decision=None)
    assert e.consent_decision is not None
    texts, payload = encode_jobs([(7, [plain, none, e], [])])
    assert texts == [e.consent_decision.json]
    ((_, (p, n, d), _),) = decode_jobs(texts, payload)
    assert isinstance(p.consent_decision, DecisionRecord) and p.consent_decision == {"ads": "full"}
    assert n.consent_decision is None
    assert d.consent_decision is not None and d.consent_decision.json == texts[0]


def test_an_empty_queue_encodes_to_nothing_to_decode() -> None:
    assert decode_jobs(*encode_jobs([])) == []
