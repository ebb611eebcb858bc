"""Refuse a ladder that would break a rule of its compliance profile, before any account starts.

`config/compliance.py` says which rules a profile (`jurisdiction: us | uk | eu | none`) enforces;
this module checks the ones a ladder file can break by itself: where the validation notice goes,
whether every email says how to opt out, how many texts or contacts its own steps make in a week,
the dispute verification letter, Sunday contact. The account workflow applies the same rules at
run time whatever the ladder says; refusing the ladder up front means ops learn of a problem
when they write the file, not from a suppressed contact in a debtor's history.

Why static (jinja2's AST, not a render): a template "carries" the validation notice or the opt-out
line when it references the variable (`{{ validation_notice }}`, `{{ opt_out }}`), directly or
through a template it extends or includes. Whether the variable renders to anything depends on
the account (the notice is "" after the first communication), so rendering a sample could not
tell; and a render check already exists (`dunning ladder validate`) for everything else.

Pure: reads template files, never renders, no Babel and no activities import. A message whose
template does not exist or does not parse is left to the template check, which refuses the
ladder anyway: reporting a compliance problem on top would only add noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, TemplateSyntaxError, meta

from config.compliance import (
    NOTICE_CHANNELS,
    NOTICE_WITHIN_DAYS,
    RULES,
    RuleId,
    contact_cap,
    profile,
    text_cap,
)
from config.ladder import EXTENSIONS, Channel, Ladder, Step

VALIDATION_NOTICE_VARIABLE = "validation_notice"
OPT_OUT_VARIABLE = "opt_out"
CAP_WINDOW_DAYS = 7
# Codes of the `holidays` library that are United Kingdom calendars (GB-ENG, GB-SCT, ...).
UK_HOLIDAY_COUNTRIES = ("GB", "UK")


@dataclass(frozen=True)
class ProfileProblem:
    """A rule of the ladder's profile that the ladder breaks; `path` is the YAML path of the
    field to fix (as the loader's paths: ("steps", 0, "template")), for file:line."""

    rule: RuleId
    citation: str
    path: tuple[int | str, ...]
    message: str

    def __str__(self) -> str:
        where = ".".join(str(part) for part in self.path)
        return f"{where}: {self.message} [{self.rule.value}, {self.citation}]"


class TemplateReferences:
    """The variables template files read, following `{% extends %}`, `{% include %}` and
    `{% import %}` of literal names (relative to the templates directory, as the renderer's
    loader resolves them). Parsed once per file."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self._env = Environment()
        self._cache: dict[str, frozenset[str] | None] = {}

    def variables(self, name: str) -> frozenset[str] | None:
        """Every context variable `name` reads, its layouts and partials included. None when it,
        or a template it pulls in, is missing or does not parse (the render check says why)."""
        return self._variables(name, ())

    def _variables(self, name: str, stack: tuple[str, ...]) -> frozenset[str] | None:
        if name in self._cache:
            return self._cache[name]
        if name in stack:  # a template that extends itself: the render check reports it
            return frozenset()
        try:
            tree = self._env.parse((self.templates_dir / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, TemplateSyntaxError):
            self._cache[name] = None
            return None
        found = set(meta.find_undeclared_variables(tree))
        for referenced in meta.find_referenced_templates(tree):
            if referenced is None:  # a computed name cannot be followed statically
                continue
            inner = self._variables(referenced, (*stack, name))
            if inner is None:
                self._cache[name] = None
                return None
            found |= inner
        self._cache[name] = frozenset(found)
        return self._cache[name]

    def locale_files(self, channel: Channel, template: str) -> list[str]:
        """`<channel>/<template>.<locale>.<ext>` for every locale present, sorted."""
        folder = self.templates_dir / channel.value
        return sorted(
            f"{channel.value}/{path.name}"
            for path in folder.glob(f"{template}.*.{EXTENSIONS[channel]}")
            if len(path.name.split(".")) == 3
        )

    def lacking(self, channel: Channel, template: str, variable: str) -> list[str] | None:
        """The locale files of a template that never read `variable` ([] when every one does).
        None when there is no file, or one cannot be read: unknown, left to the render check."""
        files = self.locale_files(channel, template)
        if not files:
            return None
        missing: list[str] = []
        for name in files:
            variables = self.variables(name)
            if variables is None:
                return None
            if variable not in variables:
                missing.append(name)
        return missing


def message_path(ladder: Ladder, where: str) -> tuple[int | str, ...]:
    """A `Ladder.messages()` place as a YAML path: `steps.sms-reminder.fallback` →
    ("steps", 1, "fallback"); `steps.sms-reminder.variants.1` → ("steps", 1, "variants", 1,
    "template"); `promise.broken` → ("promise", "broken", "template")."""
    parts = where.split(".")
    if parts[0] == "steps":
        index = next(i for i, step in enumerate(ladder.steps) if step.id == parts[1])
        if parts[-1] == "fallback":
            return ("steps", index, "fallback")
        if len(parts) >= 4 and parts[2] == "variants":
            return ("steps", index, "variants", int(parts[3]), "template")
        return ("steps", index, "template")
    return (*parts, "template")


def profile_problems(
    ladder: Ladder, templates_dir: Path, *, default_locale: str = "en"
) -> list[ProfileProblem]:
    """Every rule of the ladder's profile that the ladder itself breaks, in rule order."""
    rules = profile(ladder.jurisdiction.value)
    references = TemplateReferences(templates_dir)
    problems: list[ProfileProblem] = []
    if rules.enforces(RuleId.VALIDATION_NOTICE):
        problems.extend(_validation_notice(ladder, references))
    if rules.enforces(RuleId.OPT_OUT_NOTICE):
        problems.extend(_opt_out_notice(ladder, references))
    if rules.enforces(RuleId.DISPUTE_VERIFICATION):
        problems.extend(_dispute_verification(ladder, templates_dir, default_locale))
    # A cap applies wherever it is set, even on a profile without a default for it.
    texts = text_cap(ladder)
    if texts is not None:
        steps = [i for i, step in enumerate(ladder.steps) if step.channel == Channel.SMS]
        problems.extend(
            _cap(ladder, RuleId.TEXT_CAP, steps, texts, "text step", "texts_per_7_days")
        )
    contacts = contact_cap(ladder)
    if contacts is not None:
        steps = [i for i, step in enumerate(ladder.steps) if not step.is_handoff]
        problems.extend(
            _cap(ladder, RuleId.CONTACT_CAP, steps, contacts, "contact step", "contacts_per_7_days")
        )
    if rules.enforces(RuleId.NO_SUNDAY_OR_BANK_HOLIDAY):
        problems.extend(_sunday_and_bank_holidays(ladder))
    return problems


def _problem(rule: RuleId, path: tuple[int | str, ...], message: str) -> ProfileProblem:
    return ProfileProblem(rule, RULES[rule].citation, path, message)


def _describe(step: Step) -> str:
    channel = step.channel.value if step.channel is not None else "handoff"
    return f"{step.id}, day {step.day}, {channel} {' | '.join(step.templates)}"


def _validation_notice(ladder: Ladder, references: TemplateReferences) -> list[ProfileProblem]:
    """12 CFR 1006.34: the first communication, or an email or letter within 5 days after it,
    carries the validation notice. A voicemail is a limited-content message, not a
    communication (1006.2(j)), so the first contact that counts is the first other one."""
    contacts = [(i, step) for i, step in enumerate(ladder.steps) if not step.is_handoff]
    first = next(((i, s) for i, s in contacts if s.channel != Channel.VOICEMAIL), None)
    if first is None:
        return []
    index, step = first
    last_day = step.day + NOTICE_WITHIN_DAYS
    candidates = [
        s for _, s in contacts if s.channel in NOTICE_CHANNELS and step.day <= s.day <= last_day
    ]
    gaps: list[str] = []
    for candidate in candidates:
        if candidate.channel is None:  # a contact step has a channel
            continue
        # A step with variants carries the notice only if every variant does: an account may
        # get any one of them.
        lacking: list[str] = []
        for template in candidate.templates:
            found_in = references.lacking(candidate.channel, template, VALIDATION_NOTICE_VARIABLE)
            if found_in is None:
                return []  # unknown: the missing template is refused on its own
            lacking.extend(found_in)
        if not lacking:
            return []  # carried
        gaps.append(f"{{{{ {VALIDATION_NOTICE_VARIABLE} }}}} is missing from {', '.join(lacking)}")
    found = "; ".join(gaps) if gaps else "there is no email or letter step on those days"
    field = (
        ("variants" if step.variants is not None else "template")
        if step.channel in NOTICE_CHANNELS
        else "channel"
    )
    return [
        _problem(
            RuleId.VALIDATION_NOTICE,
            ("steps", index, field),
            f"the first contact ({_describe(step)}) must carry the validation notice, or an "
            f"email or letter on days {step.day}-{last_day} must: {found}",
        )
    ]


def _opt_out_notice(ladder: Ladder, references: TemplateReferences) -> list[ProfileProblem]:
    """12 CFR 1006.6(e): every email says how to opt out. Texts get their line at send time
    (activities/sms_opt_out.py), so only email templates are checked, each once."""
    problems: list[ProfileProblem] = []
    seen: set[str] = set()
    for where, channel, template in ladder.messages():
        if channel != Channel.EMAIL or template in seen:
            continue
        seen.add(template)
        lacking = references.lacking(channel, template, OPT_OUT_VARIABLE)
        if lacking:
            problems.append(
                _problem(
                    RuleId.OPT_OUT_NOTICE,
                    message_path(ladder, where),
                    f"{{{{ {OPT_OUT_VARIABLE} }}}} is missing from {', '.join(lacking)} (and "
                    "from its layout): every email must say how to opt out of email",
                )
            )
    return problems


def _dispute_verification(
    ladder: Ladder, templates_dir: Path, default_locale: str
) -> list[ProfileProblem]:
    """12 CFR 1006.38(d)(2): after a validated dispute the ladder resumes only once the
    verification was sent; a letter, so there is a record of what was sent and where."""
    ref = ladder.dispute.verification
    problems: list[ProfileProblem] = []
    if ref.channel != Channel.LETTER:
        problems.append(
            _problem(
                RuleId.DISPUTE_VERIFICATION,
                ("dispute", "verification", "channel"),
                f"the dispute verification must be a letter, not {ref.channel.value}",
            )
        )
    name = f"{ref.channel.value}/{ref.template}.{default_locale}.{EXTENSIONS[ref.channel]}"
    if not (templates_dir / name).is_file():
        problems.append(
            _problem(
                RuleId.DISPUTE_VERIFICATION,
                ("dispute", "verification", "template"),
                f"a {ladder.jurisdiction.value} ladder sends a verification after a validated "
                f"dispute: template {name} does not exist",
            )
        )
    return problems


def _cap(
    ladder: Ladder, rule: RuleId, indexes: list[int], cap: int, noun: str, setting: str
) -> list[ProfileProblem]:
    """Each step that is one too many in some 7-day window of ladder days (days d and d' share
    a window when d' - d < 7), reported once, at its day."""
    problems: list[ProfileProblem] = []
    enforced = profile(ladder.jurisdiction.value).enforces(rule)
    citation = RULES[rule].citation if enforced else f"the ladder's compliance.{setting}"
    for position, index in enumerate(indexes):
        day = ladder.steps[index].day
        window = [
            ladder.steps[i]
            for i in indexes[: position + 1]
            if day - ladder.steps[i].day < CAP_WINDOW_DAYS
        ]
        if len(window) > cap:
            names = ", ".join(step.id for step in window)
            problems.append(
                ProfileProblem(
                    rule,
                    citation,
                    ("steps", index, "day"),
                    f"{len(window)} {noun}s on days {window[0].day}-{day} ({names}): at most "
                    f"{cap} in any {CAP_WINDOW_DAYS} days (compliance.{setting})",
                )
            )
    return problems


def _sunday_and_bank_holidays(ladder: Ladder) -> list[ProfileProblem]:
    """FCA CONC 7.9: no contact on Sundays or bank holidays unless the ladder says so
    explicitly; the bank holidays are the United Kingdom's (the debtor's nation)."""
    problems: list[ProfileProblem] = []
    if "sun" in ladder.contact_window.days and not (
        ladder.compliance.sunday_and_bank_holiday_contact
    ):
        problems.append(
            _problem(
                RuleId.NO_SUNDAY_OR_BANK_HOLIDAY,
                ("contact_window", "days"),
                "a uk ladder contacts no one on Sundays: remove sun, or set "
                "compliance.sunday_and_bank_holiday_contact: true to say so explicitly",
            )
        )
    if ladder.holidays is not None and ladder.holidays.split("-")[0] not in UK_HOLIDAY_COUNTRIES:
        problems.append(
            _problem(
                RuleId.NO_SUNDAY_OR_BANK_HOLIDAY,
                ("holidays",),
                f"a uk ladder follows United Kingdom bank holidays, not {ladder.holidays}'s: "
                "write GB (or GB-ENG, GB-SCT, GB-WLS, GB-NIR), or leave holidays out for the "
                "debtor's nation",
            )
        )
    return problems
