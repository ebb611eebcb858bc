"""Search attributes that let ops filter accounts in the Temporal UI and the ops console. No
personal data here: status, ladder, next step, next contact time, days past due, and keyed
hashes of contacts (for webhook look-ups). Registered by `dunning dev`, by the
test environments, and (for a cluster) by `temporal operator search-attribute create`."""

from typing import Any

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

STATUS = SearchAttributeKey.for_keyword("DunningStatus")
LADDER = SearchAttributeKey.for_keyword("DunningLadder")
NEXT_CONTACT = SearchAttributeKey.for_datetime("DunningNextContact")
DAYS_PAST_DUE = SearchAttributeKey.for_int("DunningDaysPastDue")
# The next step's id (unset when there is none): upserted only by accounts that run the
# `ops-console` patch (workflows/account/patches.py), so older histories replay unchanged.
STEP = SearchAttributeKey.for_keyword("DunningStep")
# Keyed hashes of the debtor's phone and email (intake/contact_keys.py), never the contacts.
CONTACT = SearchAttributeKey.for_keyword_list("DunningContact")

ALL = (STATUS, LADDER, NEXT_CONTACT, DAYS_PAST_DUE, CONTACT, STEP)


def updates(values: dict[str, object]) -> list[SearchAttributeUpdate[Any]]:
    """The upserts for the values of `workflows.account.view.search_values` (the step only
    when the values carry it: accounts run by the `ops-console` patch)."""
    next_contact = values["next_contact"]
    upserts: list[SearchAttributeUpdate[Any]] = [
        STATUS.value_set(str(values["status"])),
        LADDER.value_set(str(values["ladder"])),
        DAYS_PAST_DUE.value_set(int(values["days_past_due"])),  # type: ignore[call-overload]
        NEXT_CONTACT.value_set(next_contact)  # type: ignore[arg-type]
        if next_contact is not None
        else NEXT_CONTACT.value_unset(),
    ]
    if "step" in values:
        step = values["step"]
        upserts.append(STEP.value_set(str(step)) if step is not None else STEP.value_unset())
    return upserts


def initial(ladder: str, contact_keys: list[str] | None = None) -> TypedSearchAttributes:
    """Set at start so an account is filterable (and findable by contact) before its first task."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(STATUS, "active"),
        SearchAttributePair(LADDER, ladder),
    ]
    if contact_keys:
        pairs.append(SearchAttributePair(CONTACT, contact_keys))
    return TypedSearchAttributes(pairs)
