"""Compliance profiles: the rules each jurisdiction enforces, with their citations, in one place.

A ladder names its profile (`jurisdiction: us | uk | eu | none`). Each rule here is enforced
twice: `config/profile_checks.py` refuses a ladder that would break it (`ladder validate`,
`simulate`, `accounts import`, with the rule, its citation and file:line), and the account
workflow applies it whatever the ladder says (`workflows/account/contact_policy.py`,
`workflows/account/compliance.py`, the render and calendar activities), recording the rule on
every suppression. The README's "Compliance" section is generated from the same table.

This module is pure data (no I/O, no heavy imports): the workflow imports it through the
sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from config.ladder import Channel

if TYPE_CHECKING:
    from config.ladder import Ladder


class RuleId(StrEnum):
    """One word per rule: recorded as `rule` on a suppressed contact and a refused event."""

    CONTACT_HOURS = "contact_hours"
    CALL_CAP = "call_cap"
    LIMITED_CONTENT_VOICEMAIL = "limited_content_voicemail"
    VALIDATION_NOTICE = "validation_notice"
    DISPUTE_VERIFICATION = "dispute_verification"
    OPT_OUT_NOTICE = "opt_out_notice"
    TEXT_CAP = "text_cap"
    RECORD_RETENTION = "record_retention"
    NO_SUNDAY_OR_BANK_HOLIDAY = "no_sunday_or_bank_holiday"
    BREATHING_SPACE = "breathing_space"
    CONTACT_CAP = "contact_cap"
    ERASURE = "erasure"
    # Every profile, including none: the contract's own rules.
    CEASE = "cease"
    DISPUTE = "dispute"
    OPT_OUT = "opt_out"


@dataclass(frozen=True)
class Rule:
    id: RuleId
    citation: str
    summary: str  # what the rule requires, in one sentence
    enforced: str  # how dunning enforces it (the README's table)


RULES: dict[RuleId, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            RuleId.CONTACT_HOURS,
            "12 CFR 1006.6(b)(1)(i); FDCPA 15 U.S.C. 1692c(a)(1)",
            "No contact before 08:00 or after 21:00 in the debtor's local time.",
            "A us ladder's window must lie within 08:00-21:00; the window is evaluated in every "
            "zone the debtor may be in.",
        ),
        Rule(
            RuleId.CALL_CAP,
            "12 CFR 1006.14(b)(2)",
            "At most 7 calls in 7 days, and none within 7 days after a conversation.",
            "The workflow counts voicemail calls and suppresses the 8th (reason call_cap). "
            "Applied in every profile.",
        ),
        Rule(
            RuleId.LIMITED_CONTENT_VOICEMAIL,
            "12 CFR 1006.2(j)",
            "A voicemail says only what a limited-content message may say.",
            "`ladder validate` refuses a us voicemail template that reads more than the "
            "limited-content fields or names a debt (activities/limited_content.py); at send "
            "time a voicemail that still names one is suppressed (reason not_limited_content).",
        ),
        Rule(
            RuleId.VALIDATION_NOTICE,
            "12 CFR 1006.34",
            "The first communication, or a letter or email within five days after it, carries "
            "the validation information (itemization, current amount, end of the validation "
            "period, how to dispute).",
            "A us ladder needs an email or letter step that includes the validation notice on "
            "or within 5 days after its first contact step; the first email or letter an "
            "account gets carries the notice whatever its template; a text before it is "
            "suppressed unless such a step follows within 5 days.",
        ),
        Rule(
            RuleId.DISPUTE_VERIFICATION,
            "12 CFR 1006.38(d)(2)",
            "A dispute within the validation period stops collection until verification is sent.",
            "`dispute_resolved validated` sends the ladder's verification letter; the ladder "
            "resumes only once it was sent. A us ladder needs that letter's templates.",
        ),
        Rule(
            RuleId.OPT_OUT_NOTICE,
            "12 CFR 1006.6(e)",
            "Every email and text message says how to opt out of further messages that way.",
            "A us ladder's email templates must print `{{ opt_out }}`; the renderer appends the "
            "line to any email that lacks it and to every us text. STOP / UNSUBSCRIBE replies "
            "opt the channel out.",
        ),
        Rule(
            RuleId.TEXT_CAP,
            "12 CFR 1006.14(a); ladder cap",
            "Texts are not sent so often that they harass (default: at most 3 per 7 days).",
            "`compliance.texts_per_7_days` (default 3): a ladder whose own text steps exceed "
            "it is refused; the workflow suppresses any text over it (reason text_cap).",
        ),
        Rule(
            RuleId.RECORD_RETENTION,
            "12 CFR 1006.100",
            "Records of collection activity are kept for three years after the last activity.",
            "The audit store is append-only and hash-chained; `account erase` is refused for "
            "a us account.",
        ),
        Rule(
            RuleId.NO_SUNDAY_OR_BANK_HOLIDAY,
            "FCA CONC 7.9 (contact at unreasonable times)",
            "No contact on Sundays or on bank holidays of the debtor's nation, unless the "
            "ladder says so explicitly.",
            "A uk ladder listing `sun` needs `compliance.sunday_and_bank_holiday_contact: "
            "true`; the window look-up closes Sundays and the bank holidays of the debtor's "
            "nation (from the postcode; all four nations' when unknown).",
        ),
        Rule(
            RuleId.BREATHING_SPACE,
            "The Debt Respite Scheme (Breathing Space) Regulations 2020 (SI 2020/1311)",
            "During a breathing space (60 days) no contact about the debt and the ladder clock "
            "stops.",
            "The `breathing_space` event holds the account for 60 days (or `days`); every "
            "contact is suppressed (reason breathing_space) until it ends on its own or by "
            "`breathing_space_end`.",
        ),
        Rule(
            RuleId.CONTACT_CAP,
            "FCA CONC 7.9 (excessive contact); ladder cap",
            "Contact is not so frequent that it is oppressive (default: at most 3 per 7 days).",
            "`compliance.contacts_per_7_days` (uk default 3): a ladder whose own steps exceed "
            "it is refused; the workflow suppresses any contact over it (reason contact_cap).",
        ),
        Rule(
            RuleId.ERASURE,
            "GDPR Art. 17; Art. 4(5) (pseudonymisation)",
            "Personal data is erased on request once it is no longer needed.",
            "`dunning account erase ID` (closed accounts) removes names, addresses and message "
            "contents from every store; the audit chain keeps hashes and the account id.",
        ),
        Rule(
            RuleId.CEASE,
            "12 CFR 1006.6(c); contract section 3",
            "After a cease request there is no further contact of any kind.",
            "The workflow suppresses every contact after `cease` (reason ceased).",
        ),
        Rule(
            RuleId.DISPUTE,
            "Contract section 3",
            "While a dispute is open there is no contact.",
            "The workflow suppresses every contact while disputed (reason disputed).",
        ),
        Rule(
            RuleId.OPT_OUT,
            "12 CFR 1006.14(h); contract section 3",
            "A channel the debtor opted out of is never used again.",
            "The workflow suppresses the channel (reason opted_out) and tries the fallback.",
        ),
    )
}


@dataclass(frozen=True)
class Profile:
    """A jurisdiction's rules and its defaults for the ladder's `compliance` limits."""

    name: str
    title: str
    rules: tuple[RuleId, ...]
    texts_per_7_days: int | None = None
    contacts_per_7_days: int | None = None

    def enforces(self, rule: RuleId) -> bool:
        return rule in self.rules


# 12 CFR 1006.34: the validation notice goes in writing, in the initial communication or
# within five days after it.
NOTICE_CHANNELS = (Channel.EMAIL, Channel.LETTER)
NOTICE_WITHIN_DAYS = 5

# The nations of the United Kingdom whose bank holidays differ (the `region` of a GB debtor).
UK_NATIONS = ("ENG", "NIR", "SCT", "WLS")

COMMON = (RuleId.CEASE, RuleId.DISPUTE, RuleId.OPT_OUT, RuleId.CALL_CAP)

PROFILES: dict[str, Profile] = {
    "us": Profile(
        "us",
        "United States: FDCPA and Regulation F (12 CFR 1006)",
        (
            *COMMON,
            RuleId.CONTACT_HOURS,
            RuleId.LIMITED_CONTENT_VOICEMAIL,
            RuleId.VALIDATION_NOTICE,
            RuleId.DISPUTE_VERIFICATION,
            RuleId.OPT_OUT_NOTICE,
            RuleId.TEXT_CAP,
            RuleId.RECORD_RETENTION,
        ),
        texts_per_7_days=3,
    ),
    "uk": Profile(
        "uk",
        "United Kingdom: FCA CONC 7 and the Debt Respite Scheme",
        (*COMMON, RuleId.NO_SUNDAY_OR_BANK_HOLIDAY, RuleId.BREATHING_SPACE, RuleId.CONTACT_CAP),
        contacts_per_7_days=3,
    ),
    "eu": Profile(
        "eu",
        "European Union: GDPR",
        (*COMMON, RuleId.ERASURE),
    ),
    "none": Profile("none", "No jurisdiction: the contract's own rules", COMMON),
}


def profile(name: str) -> Profile:
    return PROFILES[str(name)]


def text_cap(ladder: Ladder) -> int | None:
    """Texts allowed in any 7 days: the ladder's own cap, else its profile's default (us 3)."""
    limits = ladder.compliance
    return limits.texts_per_7_days or profile(ladder.jurisdiction.value).texts_per_7_days


def contact_cap(ladder: Ladder) -> int | None:
    """Contacts allowed in any 7 days: the ladder's own cap, else its profile's (uk 3)."""
    limits = ladder.compliance
    return limits.contacts_per_7_days or profile(ladder.jurisdiction.value).contacts_per_7_days


def citation(rule: RuleId | str) -> str:
    return RULES[RuleId(rule)].citation


# Which rule a suppression reason stands for (the contact's `rule` field).
REASON_RULES: dict[str, RuleId] = {
    "ceased": RuleId.CEASE,
    "disputed": RuleId.DISPUTE,
    "opted_out": RuleId.OPT_OUT,
    "call_cap": RuleId.CALL_CAP,
    "text_cap": RuleId.TEXT_CAP,
    "contact_cap": RuleId.CONTACT_CAP,
    "breathing_space": RuleId.BREATHING_SPACE,
    "validation_notice_first": RuleId.VALIDATION_NOTICE,
    "not_limited_content": RuleId.LIMITED_CONTENT_VOICEMAIL,
}


def rule_for_reason(reason: str | None) -> str | None:
    """The rule id recorded beside a suppression reason (None: not a compliance rule, e.g.
    no_address or provider_unavailable)."""
    rule = REASON_RULES.get(reason or "")
    return rule.value if rule is not None else None
