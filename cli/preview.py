"""`dunning preview`: render one message of a ladder for one account, without sending it.

The message is rendered as the workflow would send it on the ladder's ordinary course: with the
us validation notice when the step is the one that carries it (`carries_validation_notice`).
A step with template variants (A/B/n) shows every variant, labelled, and which one the account
gets (`config/variants.py`), or only the one given by `--variant`: ops review every wording a
debtor may read, not only the one the first account happens to get.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from activities.outgoing import message_facts
from activities.render import RenderError
from cli.account_commands import load_accounts
from config.compliance import NOTICE_CHANNELS
from config.ladder import Channel, Ladder, Step
from config.ladder_loader import LadderError
from config.settings import Settings
from config.variants import assign, shares
from intake.accounts_file import AccountsFileError
from worker import renderer_for
from workflows.account import compliance
from workflows.account.clock import ladder_day
from workflows.activity_types import send_request
from workflows.types import AccountInput, AccountState


def message_of(
    ladder: Ladder, step: str, variant: str | None = None
) -> tuple[Channel, str, Channel | None, int | None]:
    """(channel, template, fallback, deadline_days) of a step or of promise./plan. messages.

    For a step with variants, the template of `variant` (a variant's template name), or the
    first variant's when none is named (`send-test` then sends the first wording)."""
    refs = {
        "promise.reminder": ladder.promise.reminder,
        "promise.broken": ladder.promise.broken,
        "plan.reminder": ladder.plan.reminder,
        "plan.missed": ladder.plan.missed,
    }
    if step in refs:
        ref = refs[step]
        if ref is None:
            raise KeyError(f"the ladder has no {step}")
        return ref.channel, ref.template, None, None
    try:
        found = ladder.step(step)
    except KeyError:
        known = ", ".join([s.id for s in ladder.steps] + list(refs))
        raise KeyError(f"no step {step!r} in ladder {ladder.name} (known: {known})") from None
    if found.channel is None or not found.templates:
        raise KeyError(f"step {step!r} is a handoff: it sends no message")
    return found.channel, variant_template(found, variant), found.fallback, found.deadline_days


def variant_template(step: Step, variant: str | None) -> str:
    """The template to render for `step`: `variant` if given (one of the step's variants), else
    the step's template or its first variant's."""
    if variant is None:
        return step.templates[0]
    if step.variants is None:
        raise KeyError(f"step {step.id!r} has no variants (its template is {step.template})")
    if variant not in step.templates:
        known = ", ".join(step.templates)
        raise KeyError(f"step {step.id!r} has no variant {variant!r} (known: {known})")
    return variant


def carries_validation_notice(account: AccountInput, step: str, channel: Channel) -> bool:
    """Whether the step's message, sent on `channel`, carries the validation notice (us, 12 CFR
    1006.34). The workflow puts it in the first email or letter it sends while the notice is
    owed (`compliance.carries_notice`); on the ladder's ordinary course that is the first step
    whose channel is an email or a letter. config/profile_checks.py refuses a us ladder whose
    first email or letter comes later than 5 days after its first (non-voicemail) contact, so
    on any ladder that loads this is the step the profile check counts. Promise and plan
    messages follow the ladder's first steps: they carry no notice here."""
    steps = [ladder_step.id for ladder_step in account.ladder.steps]
    if step not in steps:
        return False
    earlier = account.ladder.steps[: steps.index(step)]
    if any(ladder_step.channel in NOTICE_CHANNELS for ladder_step in earlier):
        return False  # an earlier email or letter carried it
    owed = AccountState(balance=account.balance, compliance=True)  # nothing sent yet
    return compliance.carries_notice(owed, account, channel)


def preview_message(
    file: Path,
    ladder: str,
    step: str,
    account_row: int,
    channel: str | None,
    settings: Settings,
    out: Console,
    err: Console,
    variant: str | None = None,
) -> int:
    now = datetime.now(UTC)
    try:
        catalog, default, parsed = load_accounts(file, ladder, settings, now)
    except (LadderError, AccountsFileError) as exc:
        err.print(str(exc), markup=False)
        return 2
    rows = {index + 1: account for index, (_, account) in enumerate(parsed.accounts)}
    account = rows.get(account_row)
    if account is None:
        err.print(f"{file}: no good account row {account_row} ({len(rows)} good rows)")
        return 2
    chosen = catalog.get(default or "", account.ladder)
    account = account.model_copy(update={"ladder": chosen})
    try:
        step_channel, template, fallback, deadline_days = message_of(chosen, step, variant)
    except KeyError as exc:
        err.print(str(exc.args[0]), markup=False)
        return 2
    if channel is not None:
        step_channel = Channel(channel)
    what = _Preview(account, step, step_channel, deadline_days, fallback, now)
    ladder_step = next((s for s in chosen.steps if s.id == step), None)
    if ladder_step is None or ladder_step.variants is None:
        return _render(what, template, settings, out, err)
    gets = assign(chosen.name, ladder_step, account.account_id)
    assert gets is not None
    weights = shares(ladder_step)
    for shown in [template] if variant is not None else ladder_step.templates:
        marker = f" ← {account.account_id} gets this one" if shown == gets.template else ""
        label = f"variant {shown} ({weights[shown]:.0%} of accounts){marker}"
        code = _render(what, shown, settings, out, err, label)
        if code:
            return code
    out.print(
        f"{account.account_id} gets variant {gets.template} of step {step} "
        f"(variants: {', '.join(ladder_step.templates)})",
        markup=False,
        highlight=False,
    )
    return 0


@dataclass(frozen=True)
class _Preview:
    """What every rendering of one preview shares (a step with variants renders several)."""

    account: AccountInput
    step: str
    channel: Channel
    deadline_days: int | None
    fallback: Channel | None
    now: datetime


def _render(
    what: _Preview,
    template: str,
    settings: Settings,
    out: Console,
    err: Console,
    label: str | None = None,
) -> int:
    """Render one message and print it in a panel titled with the step, the channel, the
    template and the account (and `label`, for a variant)."""
    account, step, step_channel, now = what.account, what.step, what.channel, what.now
    request = send_request(
        account,
        idempotency_key="preview",
        at=now,
        balance=account.balance,
        days_past_due=int(ladder_day(account.due_at, now, 0, None)),
        step=step,
        channel=step_channel,
        template=template,
        deadline_days=what.deadline_days,
        promise_amount=account.balance,
        promise_date=now.date(),
        installment_amount=account.balance,
        installment_date=now.date(),
        installment_number=1,
        installment_count=1,
        validation_notice=carries_validation_notice(account, step, step_channel),
        itemization=account.itemization,
    )
    try:
        message = renderer_for(settings).render(
            step_channel, template, message_facts(request, settings.payment_link_template)
        )
    except RenderError as exc:
        err.print(str(exc), markup=False)
        return 2
    title = f"{step} · {step_channel.value} · {template}.{message.locale} → {account.account_id}"
    body = (f"Subject: {message.subject}\n\n" if message.subject else "") + message.text
    out.print(Panel(Text(body), title=title, subtitle=label, expand=False))
    if what.fallback is not None:
        out.print(
            f"(fallback when {step_channel.value} cannot reach the debtor: {what.fallback.value})"
        )
    return 0
