"""Search attributes that let ops filter accounts in the Temporal UI. No personal data here:
status, ladder, next contact time, days past due, and keyed hashes of contacts
(for webhook look-ups). Registered by `dunning dev`, by the
test environments, and (for a cluster) by `temporal operator search-attribute create`."""

from temporalio.common import SearchAttributeKey

STATUS = SearchAttributeKey.for_keyword("DunningStatus")
LADDER = SearchAttributeKey.for_keyword("DunningLadder")
NEXT_CONTACT = SearchAttributeKey.for_datetime("DunningNextContact")
DAYS_PAST_DUE = SearchAttributeKey.for_int("DunningDaysPastDue")
# Keyed hashes of the debtor's phone and email (intake/contact_keys.py), never the contacts.
CONTACT = SearchAttributeKey.for_keyword_list("DunningContact")

ALL = (STATUS, LADDER, NEXT_CONTACT, DAYS_PAST_DUE, CONTACT)
