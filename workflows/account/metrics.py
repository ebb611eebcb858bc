"""Which Prometheus counters the account's new records add: pure, so it is tested without a
server, and the workflow only hands the result to its metric meter (`calls.Metrics`).

Counted from the records, not at the places that make them: a contact is recorded in several
places (a send, a suppression by a rule, no window at all, a give-up after an outage) and an
event arrives from the CLI, the ops console or a webhook, but everything ends up in
`state.contacts` and `state.events`, so counting what was appended there misses nothing and
counts nothing twice. `Tally` remembers what it has counted; on replay the workflow's meter
drops every count, and the tally is rebuilt from the same records, so a replayed record is
never counted again (and one carried over continue-as-new was counted by the run before).

Labels are bounded by the code and the ladders (channels, reasons, rule ids, event types):
never an account id, an address, a number or a template's text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from workflows.types import EVENT_TYPES, AccountState, ContactRecord, EventRecord

CONTACTS = "dunning_contacts_total"
SUPPRESSIONS = "dunning_suppressions_total"
UNCONFIRMED = "dunning_unconfirmed_sends_total"
EVENTS = "dunning_events_total"
MILESTONES = "dunning_milestones_total"

DESCRIPTIONS = {
    CONTACTS: "Contacts recorded, by channel and outcome (sent or suppressed)",
    SUPPRESSIONS: "Suppressed contacts, by channel, reason and compliance rule",
    UNCONFIRMED: "Sends treated as sent though the provider's acceptance is unconfirmed",
    EVENTS: "Events answered, by type and answer (accepted, refused, duplicate)",
    MILESTONES: "The account's own milestones (handoff, promise_kept, send_failed, ...)",
}

NONE = "none"  # the label value where a record has no rule


@dataclass(frozen=True, order=True)
class Count:
    """One time series: a counter's name and its label values."""

    name: str
    labels: tuple[tuple[str, str], ...]

    @property
    def attributes(self) -> dict[str, str]:
        return dict(self.labels)


def _count(name: str, **labels: str) -> Count:
    return Count(name, tuple(sorted(labels.items())))


def contact_counts(record: ContactRecord) -> list[Count]:
    """A contact: sent or suppressed on its channel; a suppression by reason and rule; a send
    whose acceptance could not be confirmed."""
    channel = record.channel.value
    counts = [_count(CONTACTS, channel=channel, outcome=record.outcome)]
    if record.outcome == "suppressed":
        reason, rule = record.reason or NONE, record.rule or NONE
        counts.append(_count(SUPPRESSIONS, channel=channel, reason=reason, rule=rule))
    elif not record.confirmed:
        counts.append(_count(UNCONFIRMED, channel=channel))
    return counts


def event_counts(record: EventRecord) -> list[Count]:
    return [event_count(record.type, record.accepted)]


def event_count(kind: str, accepted: bool) -> Count:
    """An event the world sent (accepted or refused), or a milestone of the account's own."""
    if kind in EVENT_TYPES:
        return _count(EVENTS, type=kind, answer=answer(accepted))
    return _count(MILESTONES, type=kind)


def answer(accepted: bool, duplicate: bool = False) -> str:
    if duplicate:
        return "duplicate"
    return "accepted" if accepted else "refused"


def duplicate_count(event_type: str) -> Count:
    """A repeated `event_id`: answered with the first answer and never recorded again, so it is
    counted where it is answered, not from the records."""
    return _count(EVENTS, type=event_type, answer="duplicate")


def counts(contacts: Iterable[ContactRecord], events: Iterable[EventRecord]) -> Counter[Count]:
    """The counters a batch of new records adds, each series with its increment."""
    total: Counter[Count] = Counter()
    for contact in contacts:
        total.update(contact_counts(contact))
    for event in events:
        total.update(event_counts(event))
    return total


def _event_key(record: EventRecord) -> tuple[str, bool]:
    return record.type, record.accepted


class Tally:
    """What has been counted of a run's records.

    Within a run records are only ever added (trimmed only at continue-as-new, when the next
    run starts its own tally). Contacts are appended, so the new ones are those past the count
    already seen. An event may be inserted before the milestones it caused (which may have been
    counted while its handler awaited an activity), so "past the n-th" would count a milestone
    twice and miss the event; but its labels (type, answer) are all a counter needs, so the
    events are tallied by labels, and what the labels' totals gained since the last call is
    exactly what the new events add.
    """

    def __init__(self, state: AccountState) -> None:
        """Everything `state` holds already is counted (a new run carries its predecessor's
        records, which that run counted)."""
        self._contacts = len(state.contacts)
        self._events: Counter[tuple[str, bool]] = Counter(map(_event_key, state.events))
        self._event_total = len(state.events)

    def new(self, state: AccountState) -> Counter[Count]:
        """The counters added by the records `state` gained since the last call (or since the
        tally began); they are counted from now on. Nothing new: no record is looked at."""
        total: Counter[Count] = Counter()
        if len(state.contacts) != self._contacts:
            total.update(counts(state.contacts[self._contacts :], ()))
            self._contacts = len(state.contacts)
        if len(state.events) != self._event_total:
            now: Counter[tuple[str, bool]] = Counter(map(_event_key, state.events))
            for (kind, accepted), added in (now - self._events).items():
                total[event_count(kind, accepted)] += added
            self._events, self._event_total = now, len(state.events)
        return total
