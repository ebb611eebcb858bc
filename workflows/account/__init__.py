"""The account's rules as plain functions: no Temporal import anywhere in this package.

- `events`: one typed model per event type (a discriminated union), with bounded numbers.
- `apply`: `apply(state, account, event, now, lookups) -> (state, Answer)`.
- `plan`: `next_action(state, account, now) -> Action`, an action being data.
- `contact_policy`: may this channel be used now? allowed, or suppressed with a reason.
- `contacts`: what a send's outcome does to the state (sent, suppressed, fallback, retry,
  deferred because the window closed first, given up at its bound).
- `outage`: how long a contact that could not go out keeps being tried, and on which channel.
- `clock`: ladder-day arithmetic.
- `view`: what the status query and the search attributes show.

The workflow (`workflows/account_workflow.py`) runs the actions these functions decide and
feeds back what happened; the property tests drive the same functions without a server.
"""
