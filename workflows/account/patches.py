"""Which rules an account runs by: one `workflow.patched` per change of the command sequence.

Each patch guards a change that would make a recorded history take a different path; the
newest is asked first, and an account started since it runs by every older one without asking
them (each asked patch costs a marker and a TemporalChangeVersion upsert in every history).
The SDK remembers each answer per run, so these may be asked anywhere in workflow code; they
are asked first thing in `run`, so a run's rules are decided in its first task. See README,
"Changing the workflow".
"""

from __future__ import annotations

from temporalio import workflow

# Accounts started before the account model keep the rules they ran with until their next
# continue-as-new.
MODEL_RULES = "account-model"
# Issue 10: a send the window closed on is deferred (same key), an outage is retried until the
# next step's moment, closed accounts are recorded.
SEND_FAULTS = "send-faults"
CALL_CAP = "call-cap"
# Issue 11: one patch instead of the three above, search attributes upserted once a task, the
# close recorded with a local activity. A patch, not a version in the input: a patch replays
# right on any mix of old and new workers during a rolling deploy.
LEAN_RULES = "lean-rules"
# Issue 12: compliance profiles (caps, validation notice, verification, breathing space) and
# the audit trail. The answer is kept in the state (`state.compliance`) so the pure rules read
# it there; an older account takes it up at its next continue-as-new.
COMPLIANCE = "compliance-profiles"
# Issue 13: the next step as a search attribute (`DunningStep`, the ops console's filter). Asked
# before `compliance-profiles`: an account started since runs by every older rule without
# asking them.
CONSOLE = "ops-console"


def console() -> bool:
    """Accounts started since issue 13: they upsert `DunningStep`."""
    return workflow.patched(CONSOLE)


def compliance() -> bool:
    return console() or workflow.patched(COMPLIANCE)


def lean() -> bool:
    """Accounts started since issue 11."""
    return compliance() or workflow.patched(LEAN_RULES)


def model_rules() -> bool:
    """Accounts run by the account model's rules (all but older running ones)."""
    return lean() or workflow.patched(MODEL_RULES)


def send_faults() -> bool:
    """Accounts run by issue 10's send rules (all but older running ones)."""
    return lean() or workflow.patched(SEND_FAULTS)


def call_cap() -> bool:
    return lean() or workflow.patched(CALL_CAP)
