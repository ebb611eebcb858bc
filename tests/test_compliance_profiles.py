"""Compliance profiles refuse a ladder that breaks one of their rules, naming the rule, its
citation and the line (config/profile_checks.py), in `ladder validate`, `simulate` and
`accounts import` alike.

One table row per rule a ladder file can break: a small ladder that breaks it and the same ladder
fixed. Templates are written into tmp_path; the checks are static, so only the CLI tests render.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from config.compliance import PROFILES, RULES, RuleId, citation
from config.ladder_loader import LadderError, load_catalog, load_ladder, profile_refusals
from config.profile_checks import TemplateReferences, profile_problems
from config.settings import PROJECT_ROOT

SHIPPED_TEMPLATES = PROJECT_ROOT / "templates"
SHIPPED_LADDERS = PROJECT_ROOT / "config" / "ladders"
ACCOUNTS = PROJECT_ROOT.parent / "shared" / "spec" / "accounts.example.csv"
LOCALES = ("en", "fr", "it", "es", "pl")

LETTER = "{% block subject %}Your account{% endblock %}{% block body %}Dear {{ debtor.name }}"
TEMPLATES: dict[str, str] = {
    "email/_layout.html": "<html>{% block content %}{% endblock %}<p>{{ opt_out }}</p></html>",
    # Through the layout: carries the opt-out line; prints the notice itself.
    "email/notice.en.html": (
        '{% extends "email/_layout.html" %}{% block subject %}Hello{% endblock %}'
        "{% block text %}Hi {{ validation_notice }}{% endblock %}"
        "{% block content %}Hi {{ validation_notice }}{% endblock %}"
    ),
    "email/plain.en.html": (
        '{% extends "email/_layout.html" %}{% block subject %}Hello{% endblock %}'
        "{% block text %}Hi{% endblock %}{% block content %}Hi{% endblock %}"
    ),
    # No layout: never says how to opt out.
    "email/bare.en.html": "{% block subject %}Hello{% endblock %}{% block text %}Hi{% endblock %}",
    "letter/notice.en.txt": LETTER + "{{ validation_notice }}{% endblock %}",
    "letter/included.en.txt": LETTER + '{% include "letter/_block.txt" %}{% endblock %}',
    "letter/_block.txt": "{{ validation_notice }}",
    "letter/plain.en.txt": LETTER + "{% endblock %}",
    "letter/verification.en.txt": LETTER + ", we checked.{% endblock %}",
    # The renderer's partial (us samples ask for the notice); its wording is not under test.
    "letter/_validation-notice.en.txt": "VALIDATION NOTICE",
    "email/_validation-notice.en.html": "<p>VALIDATION NOTICE</p>",
    "sms/text.en.txt": "Hi {{ debtor.name }}, call {{ creditor.phone }}.",
    "voicemail/call.en.txt": "Hi {{ debtor.name }}, please call {{ creditor.phone }}.",
}


def write_templates(root: Path, extra: dict[str, str] | None = None) -> Path:
    for name, text in {**TEMPLATES, **(extra or {})}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    return write_templates(tmp_path / "templates")


def ladder_text(
    steps: list[str],
    jurisdiction: str = "us",
    days: str = "[mon, tue, wed, thu, fri]",
    extra: str = "",
) -> str:
    """A ladder with one flow-style step per line (so a step's fields share its line)."""
    lines = [
        "name: t",
        "version: 1",
        f"jurisdiction: {jurisdiction}",
        "contact_window:",
        '  start: "08:00"',
        '  end: "20:00"',
        f"  days: {days}",
        "steps:",
        *(f"  - {{{step}}}" for step in steps),
        "  - {id: handoff, day: 60, action: handoff}",
    ]
    return "\n".join(lines) + "\n" + extra


def line_with(text: str, marker: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if marker in line)


NOTICE_LETTER = "id: first, day: 1, channel: letter, template: notice"


@dataclass(frozen=True)
class Case:
    rule: RuleId
    what: str  # the test id's middle: what the broken ladder does
    broken: str
    marker: str  # text on the line the refusal must name
    fixed: str


CASES = [
    Case(  # a text first, and no email or letter with the notice within 5 days
        RuleId.VALIDATION_NOTICE,
        "text-first-no-notice-within-5-days",
        ladder_text(
            [
                "id: text-first, day: 1, channel: sms, template: text",
                "id: letter, day: 7, channel: letter, template: notice",
            ]
        ),
        "text-first",
        ladder_text(
            [
                "id: text-first, day: 1, channel: sms, template: text",
                "id: letter, day: 6, channel: letter, template: notice",
            ]
        ),
    ),
    Case(
        RuleId.OPT_OUT_NOTICE,
        "email-without-opt-out",
        ladder_text([NOTICE_LETTER, "id: mail, day: 3, channel: email, template: bare"]),
        "template: bare",
        ladder_text([NOTICE_LETTER, "id: mail, day: 3, channel: email, template: plain"]),
    ),
    Case(
        RuleId.DISPUTE_VERIFICATION,
        "no-verification-letter",
        ladder_text(
            [NOTICE_LETTER],
            extra="dispute:\n  verification: {channel: letter, template: nowhere}\n",
        ),
        "nowhere",
        ladder_text(
            [NOTICE_LETTER],
            extra="dispute:\n  verification: {channel: letter, template: verification}\n",
        ),
    ),
    Case(  # the us default: 3 texts in any 7 days; the 4th on days 2-5 is one too many
        RuleId.TEXT_CAP,
        "4-texts-in-7-days",
        ladder_text(
            [NOTICE_LETTER]
            + [f"id: text-{day}, day: {day}, channel: sms, template: text" for day in (2, 3, 4)]
            + ["id: text-fourth, day: 5, channel: sms, template: text"]
        ),
        "text-fourth",
        ladder_text(
            [NOTICE_LETTER]
            + [f"id: text-{day}, day: {day}, channel: sms, template: text" for day in (2, 3, 4)]
            + ["id: text-fourth, day: 9, channel: sms, template: text"]
        ),
    ),
    Case(  # the uk default: 3 contacts in any 7 days, whatever the channel
        RuleId.CONTACT_CAP,
        "4-contacts-in-7-days",
        ladder_text(
            [
                "id: a, day: 1, channel: email, template: plain",
                "id: b, day: 2, channel: sms, template: text",
                "id: c, day: 4, channel: letter, template: plain",
                "id: d-fourth, day: 7, channel: voicemail, template: call",
            ],
            jurisdiction="uk",
        ),
        "d-fourth",
        ladder_text(
            [
                "id: a, day: 1, channel: email, template: plain",
                "id: b, day: 2, channel: sms, template: text",
                "id: c, day: 4, channel: letter, template: plain",
                "id: d-fourth, day: 8, channel: voicemail, template: call",
            ],
            jurisdiction="uk",
        ),
    ),
    Case(
        RuleId.NO_SUNDAY_OR_BANK_HOLIDAY,
        "sunday",
        ladder_text(["id: a, day: 1, channel: letter, template: plain"], "uk", "[sat, sun]"),
        "days: [sat, sun]",
        ladder_text(
            ["id: a, day: 1, channel: letter, template: plain"],
            "uk",
            "[sat, sun]",
            "compliance: {sunday_and_bank_holiday_contact: true}\n",
        ),
    ),
    Case(  # another country's holidays on a uk ladder
        RuleId.NO_SUNDAY_OR_BANK_HOLIDAY,
        "french-holidays",
        ladder_text(["id: a, day: 1, channel: letter, template: plain"], "uk") + "holidays: FR\n",
        "holidays: FR",
        ladder_text(["id: a, day: 1, channel: letter, template: plain"], "uk")
        + "holidays: GB-SCT\n",
    ),
]


def case_id(case: Case) -> str:
    return f"{case.rule.value}-{case.what}-{citation(case.rule)}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_a_ladder_breaking_a_rule_is_refused_with_rule_citation_and_line(
    case: Case, tmp_path: Path, templates: Path
):
    file = tmp_path / "ladder.yaml"
    file.write_text(case.broken, encoding="utf-8")
    with pytest.raises(LadderError) as caught:
        load_ladder(file, templates_dir=templates)
    [problem] = caught.value.problems
    assert (problem.rule, problem.citation) == (case.rule.value, RULES[case.rule].citation)
    assert problem.line == line_with(case.broken, case.marker)
    assert str(problem).startswith(f"{file}:{problem.line}: ")
    assert str(problem).endswith(f" [{case.rule.value}, {RULES[case.rule].citation}]")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_same_ladder_keeping_the_rule_is_accepted(case: Case, tmp_path: Path, templates):
    file = tmp_path / "ladder.yaml"
    file.write_text(case.fixed, encoding="utf-8")
    load_ladder(file, templates_dir=templates)  # no LadderError


# ---- the validation notice: which contact counts, every locale, partials -----------------------


@pytest.mark.parametrize(
    ("steps", "refused"),
    [
        # The first contact carries it.
        ([NOTICE_LETTER], False),
        (["id: first, day: 1, channel: email, template: notice"], False),
        # An email or letter on the first contact's day + 5 still counts; + 6 is too late.
        (
            [
                "id: t, day: 2, channel: sms, template: text",
                "id: l, day: 7, channel: letter, template: notice",
            ],
            False,
        ),
        (
            [
                "id: t, day: 2, channel: sms, template: text",
                "id: l, day: 8, channel: letter, template: notice",
            ],
            True,
        ),
        # A voicemail is a limited-content message, not the first communication.
        (
            [
                "id: v, day: 1, channel: voicemail, template: call",
                "id: l, day: 9, channel: letter, template: notice",
            ],
            False,
        ),
        # An SMS whose fallback is an email does not carry anything.
        (
            [
                "id: t, day: 1, channel: sms, template: text, fallback: email",
                "id: l, day: 9, channel: letter, template: notice",
            ],
            True,
        ),
        # The first letter lacks it: refused even though a later letter (day 10) has it.
        (
            [
                "id: first, day: 1, channel: letter, template: plain",
                "id: l, day: 10, channel: letter, template: notice",
            ],
            True,
        ),
        # Through a literal {% include %}.
        (["id: first, day: 1, channel: letter, template: included"], False),
    ],
    ids=[
        "first-letter-carries",
        "first-email-carries",
        "letter-on-day-plus-5",
        "letter-on-day-plus-6",
        "voicemail-is-not-a-communication",
        "sms-fallback-carries-nothing",
        "first-letter-lacks-it",
        "through-an-include",
    ],
)
def test_where_the_validation_notice_must_be(steps, refused, tmp_path: Path, templates):
    ladder = _parsed(tmp_path, ladder_text(steps))
    found = [p.rule for p in profile_problems(ladder, templates)]
    assert found == ([RuleId.VALIDATION_NOTICE] if refused else [])


def test_the_validation_notice_must_be_in_every_locale_file(tmp_path: Path, templates: Path):
    (templates / "letter" / "notice.fr.txt").write_text(LETTER + "{% endblock %}")
    ladder = _parsed(tmp_path, ladder_text([NOTICE_LETTER]))
    [problem] = profile_problems(ladder, templates)
    assert problem.path == ("steps", 0, "template")
    assert problem.message.endswith("{{ validation_notice }} is missing from letter/notice.fr.txt")
    assert "notice.en" not in problem.message


def test_a_missing_template_is_left_to_the_template_check(tmp_path: Path, templates: Path):
    """No compliance noise on top of `template ... does not exist`."""
    ladder = _parsed(tmp_path, ladder_text(["id: first, day: 1, channel: email, template: absent"]))
    assert profile_problems(ladder, templates) == []


def test_the_verification_letter_left_to_its_default_points_at_jurisdiction(
    tmp_path: Path, templates: Path
):
    (templates / "letter" / "verification.en.txt").unlink()
    text = ladder_text([NOTICE_LETTER])
    file = tmp_path / "ladder.yaml"
    file.write_text(text)
    [problem] = profile_refusals(file, load_ladder(file), templates)
    assert problem.rule == RuleId.DISPUTE_VERIFICATION
    assert problem.line == line_with(text, "jurisdiction: us")
    assert "letter/verification.en.txt does not exist" in problem.message


def test_the_verification_must_be_a_letter(tmp_path: Path, templates: Path):
    extra = "dispute:\n  verification: {channel: email, template: plain}\n"
    ladder = _parsed(tmp_path, ladder_text([NOTICE_LETTER], extra=extra))
    problems = profile_problems(ladder, templates)
    assert [(p.rule, p.path) for p in problems] == [
        (RuleId.DISPUTE_VERIFICATION, ("dispute", "verification", "channel")),
    ]


def test_a_promise_reminder_email_needs_the_opt_out_line(tmp_path: Path, templates: Path):
    extra = "promise:\n  reminder: {days_before: 1, channel: email, template: bare}\n"
    ladder = _parsed(tmp_path, ladder_text([NOTICE_LETTER], extra=extra))
    [problem] = profile_problems(ladder, templates)
    assert (problem.rule, problem.path) == (
        RuleId.OPT_OUT_NOTICE,
        ("promise", "reminder", "template"),
    )


# ---- caps: where a ladder sets one, and profiles without rules -----------------------------------


def test_a_cap_set_on_a_profile_without_one_applies(tmp_path: Path, templates: Path):
    steps = [
        "id: a, day: 1, channel: sms, template: text",
        "id: b, day: 3, channel: sms, template: text",
    ]
    uncapped = _parsed(tmp_path, ladder_text(steps, "eu"))
    assert profile_problems(uncapped, templates) == []
    capped = _parsed(
        tmp_path, ladder_text(steps, "eu", extra="compliance: {texts_per_7_days: 1}\n")
    )
    [problem] = profile_problems(capped, templates)
    assert (problem.rule, problem.path) == (RuleId.TEXT_CAP, ("steps", 1, "day"))
    assert "compliance.texts_per_7_days" in problem.citation  # not Regulation F's: eu


def test_a_raised_text_cap_accepts_more_texts(tmp_path: Path, templates: Path):
    texts = [f"id: t-{day}, day: {day}, channel: sms, template: text" for day in (2, 3, 4, 5)]
    ladder = _parsed(
        tmp_path,
        ladder_text([NOTICE_LETTER, *texts], extra="compliance: {texts_per_7_days: 4}\n"),
    )
    assert profile_problems(ladder, templates) == []


@pytest.mark.parametrize("jurisdiction", ["eu", "none"])
def test_profiles_without_ladder_rules_accept_what_us_and_uk_refuse(
    jurisdiction: str, tmp_path: Path, templates: Path
):
    steps = [f"id: t-{day}, day: {day}, channel: sms, template: text" for day in range(1, 7)]
    text = ladder_text([*steps, "id: m, day: 7, channel: email, template: bare"], jurisdiction)
    ladder = _parsed(tmp_path, text.replace("[mon, tue, wed, thu, fri]", "[sat, sun]"))
    assert profile_problems(ladder, templates) == []


# ---- the catalog of rules ------------------------------------------------------------------------


def test_every_rule_has_a_citation_and_every_profile_names_known_rules():
    assert set(RULES) == set(RuleId)
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id and rule.citation.strip() and rule.summary and rule.enforced
    for name, profile in PROFILES.items():
        assert profile.name == name
        assert profile.rules and all(rule in RULES for rule in profile.rules)
        assert len(set(profile.rules)) == len(profile.rules)


# ---- the shipped ladders and templates -----------------------------------------------------------


def test_the_shipped_ladders_keep_their_profiles():
    for file in sorted(SHIPPED_LADDERS.glob("*.yaml")):
        assert profile_refusals(file, load_ladder(file), SHIPPED_TEMPLATES) == [], file


def test_the_shipped_first_messages_carry_the_notice_and_emails_the_opt_out_line():
    references = TemplateReferences(SHIPPED_TEMPLATES)
    for locale in LOCALES:
        for name in (
            "email/courtesy.{}.html",
            "letter/first-notice.{}.txt",
            "letter/final-notice.{}.txt",
        ):
            assert "validation_notice" in references.variables(name.format(locale)), name
        for path in (SHIPPED_TEMPLATES / "email").glob(f"[!_]*.{locale}.html"):  # not partials
            assert "opt_out" in references.variables(f"email/{path.name}"), path
        assert (SHIPPED_TEMPLATES / "letter" / f"verification.{locale}.txt").is_file()


def test_a_us_example_ladder_starting_with_a_plain_reminder_is_refused(tmp_path: Path):
    example = (SHIPPED_LADDERS / "consumer-standard.yaml").read_text(encoding="utf-8")
    text = example.replace("template: courtesy ", "template: reminder ")
    file = tmp_path / "consumer.yaml"
    file.write_text(text, encoding="utf-8")
    [problem] = profile_refusals(file, load_ladder(file), SHIPPED_TEMPLATES)
    assert problem.rule == RuleId.VALIDATION_NOTICE
    assert problem.line == line_with(text, "template: reminder ")
    assert problem.field == "steps[0] (courtesy-email).template"


def test_the_catalog_skips_a_refused_ladder_and_says_why(tmp_path: Path, templates: Path):
    ladders = tmp_path / "ladders"
    ladders.mkdir()
    (ladders / "good.yaml").write_text(ladder_text([NOTICE_LETTER]).replace("name: t", "name: g"))
    (ladders / "bad.yaml").write_text(CASES[0].broken.replace("name: t", "name: b"))
    skipped: list = []
    catalog = load_catalog(ladders, templates_dir=templates, skipped=skipped)
    assert sorted(catalog) == ["g"]
    assert [problem.rule for problem in skipped] == [RuleId.VALIDATION_NOTICE.value]
    assert sorted(load_catalog(ladders)) == ["b", "g"]  # without templates: schema only


# ---- the commands ------------------------------------------------------------------------------

NO_NOTICE = ladder_text(["id: first, day: 1, channel: letter, template: plain"])


@pytest.fixture
def runner(monkeypatch, tmp_path: Path, templates: Path) -> CliRunner:
    monkeypatch.setenv("DUNNING_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DUNNING_TEMPLATES_DIR", str(templates))
    return CliRunner()


def expected_line(file: Path) -> str:
    line = line_with(NO_NOTICE, "id: first")
    return f"{file}:{line}: steps[0] (first).template: the first contact (first, day 1, letter"


def test_ladder_validate_refuses_a_us_ladder_without_the_notice(runner: CliRunner, tmp_path):
    file = tmp_path / "no-notice.yaml"
    file.write_text(NO_NOTICE)
    result = runner.invoke(app, ["ladder", "validate", str(file)])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(expected_line(file))
    assert line.endswith("[validation_notice, 12 CFR 1006.34]")
    fixed = tmp_path / "notice.yaml"
    fixed.write_text(NO_NOTICE.replace("template: plain", "template: notice"))
    result = runner.invoke(app, ["ladder", "validate", str(fixed)])
    assert result.exit_code == 0, result.output


def test_simulate_refuses_a_us_ladder_without_the_notice_in_one_line(runner: CliRunner, tmp_path):
    file = tmp_path / "no-notice.yaml"
    file.write_text(NO_NOTICE)
    result = runner.invoke(
        app,
        [
            "simulate",
            "--ladder",
            str(file),
            "--accounts",
            str(ACCOUNTS),
            "--start",
            "2030-01-07T06:00:00Z",
            "--days",
            "30",
        ],
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(expected_line(file))
    assert "[validation_notice, 12 CFR 1006.34]" in line


def test_import_refuses_a_us_ladder_without_the_notice_before_connecting(
    runner: CliRunner, tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("DUNNING_TEMPORAL_ADDRESS", "127.0.0.1:9")  # nothing listens there
    file = tmp_path / "no-notice.yaml"
    file.write_text(NO_NOTICE)
    result = runner.invoke(app, ["accounts", "import", str(ACCOUNTS), "--ladder", str(file)])
    assert result.exit_code == 2
    assert expected_line(file) in result.stderr
    assert "[validation_notice, 12 CFR 1006.34]" in result.stderr
    assert "Temporal" not in result.stderr


def _parsed(tmp_path: Path, text: str):
    file = tmp_path / "parsed.yaml"
    file.write_text(text, encoding="utf-8")
    return load_ladder(file)
