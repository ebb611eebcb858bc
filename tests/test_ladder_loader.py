"""The ladder language (config/ladder.py) and its loader (config/ladder_loader.py).

Broken ladders are built from the shipped example with small textual edits, so each test changes
exactly one thing and can compute the line ops staff would be pointed at.
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.ladder import Channel, ContactWindow, Jurisdiction, Ladder
from config.ladder_loader import (
    LadderError,
    LadderProblem,
    find_ladder,
    line_of,
    load_catalog,
    load_ladder,
    parse_ladder,
)

LADDERS_DIR = Path(__file__).resolve().parent.parent / "config" / "ladders"
CONSUMER = LADDERS_DIR / "consumer-standard.yaml"
B2B = LADDERS_DIR / "b2b-net30.yaml"
TEXT = CONSUMER.read_text(encoding="utf-8")
X = Path("x.yaml")


def line_containing(text: str, fragment: str, occurrence: int = 1) -> int:
    """1-based line number of the n-th line that contains `fragment`."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if fragment in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{fragment!r} not found {occurrence} time(s)")


def edited(old: str, new: str, text: str = TEXT) -> str:
    assert text.count(old) >= 1, f"{old!r} is not in the example ladder"
    return text.replace(old, new, 1)


def only_problem(text: str) -> LadderProblem:
    with pytest.raises(LadderError) as caught:
        parse_ladder(text, X)
    assert len(caught.value.problems) == 1, caught.value.problems
    return caught.value.problems[0]


# --- the shipped ladders ---------------------------------------------------------------------


def test_shipped_consumer_ladder_loads_with_every_field():
    ladder = load_ladder(CONSUMER)
    assert ladder.name == "consumer-standard"
    assert ladder.version == 1
    assert ladder.jurisdiction is Jurisdiction.US
    assert ladder.holidays == "US"
    assert ladder.contact_window.start == time(8, 0)
    assert ladder.contact_window.end == time(21, 0)
    assert ladder.contact_window.days == ("mon", "tue", "wed", "thu", "fri", "sat")
    assert ladder.contact_window.weekday_numbers == (0, 1, 2, 3, 4, 5)
    assert ladder.min_balance == Decimal("10.00")
    assert isinstance(ladder.min_balance, Decimal)
    assert [step.id for step in ladder.steps] == [
        "courtesy-email",
        "sms-reminder",
        "first-letter",
        "voicemail",
        "final-notice",
        "handoff",
    ]
    assert [step.day for step in ladder.steps] == [1, 5, 10, 15, 30, 45]
    assert ladder.step("sms-reminder").channel is Channel.SMS
    assert ladder.step("sms-reminder").fallback is Channel.EMAIL
    assert ladder.step("courtesy-email").deadline_days == 7
    assert ladder.steps[-1].is_handoff
    assert ladder.steps[-1].channel is None
    assert ladder.promise.grace_days == 2
    assert ladder.promise.max_days == 30
    assert ladder.promise.reminder is not None
    assert ladder.promise.reminder.days_before == 1
    assert ladder.plan.max_installments == 6
    assert ladder.plan.default_after_missed == 2


def test_shipped_b2b_ladder_loads_with_weekday_window_and_no_sms():
    ladder = load_ladder(B2B)
    assert ladder.name == "b2b-net30"
    assert ladder.jurisdiction is Jurisdiction.EU
    assert ladder.holidays == "FR"
    assert ladder.contact_window.days == ("mon", "tue", "wed", "thu", "fri")
    assert ladder.min_balance == Decimal("50.00")
    assert [step.day for step in ladder.steps] == [3, 14, 30, 50, 75]
    channels = {channel for _, channel, _ in ladder.messages()}
    assert channels == {Channel.EMAIL, Channel.LETTER}
    assert ladder.plan.missed is None


def test_shipped_example_is_identical_to_the_contract_example():
    spec = Path("/work/shared/spec/ladder.example.yaml")
    if not spec.exists():
        pytest.skip("shared spec not mounted")
    assert spec.read_text(encoding="utf-8") == TEXT


def test_step_lookup_by_unknown_id_raises_key_error():
    ladder = parse_ladder(TEXT, X)
    with pytest.raises(KeyError):
        ladder.step("no-such-step")


def test_messages_lists_steps_fallbacks_and_policy_messages():
    ladder = parse_ladder(TEXT, X)
    messages = ladder.messages()
    assert ("steps.sms-reminder", Channel.SMS, "reminder") in messages
    assert ("steps.sms-reminder.fallback", Channel.EMAIL, "reminder") in messages
    assert ("steps.voicemail.fallback", Channel.SMS, "callback-request") in messages
    assert ("promise.reminder", Channel.SMS, "promise-reminder") in messages
    assert ("promise.broken", Channel.SMS, "promise-broken") in messages
    assert ("plan.reminder", Channel.EMAIL, "installment-reminder") in messages
    assert ("plan.missed", Channel.SMS, "installment-missed") in messages
    # A us ladder can send the dispute verification letter (12 CFR 1006.38).
    assert ("dispute.verification", Channel.LETTER, "verification") in messages
    # The handoff sends nothing.
    assert not any(where == "steps.handoff" for where, _, _ in messages)
    assert len(messages) == 5 + 2 + 4 + 1


def test_only_a_profile_with_dispute_verification_lists_the_verification_letter():
    ladder = parse_ladder(TEXT.replace("jurisdiction: us ", "jurisdiction: eu "), X)
    assert not any(where == "dispute.verification" for where, _, _ in ladder.messages())


def test_parsed_ladder_is_frozen():
    ladder = parse_ladder(TEXT, X)
    with pytest.raises(ValidationError):
        ladder.version = 2  # type: ignore[misc]


def test_ladder_round_trips_through_json_for_the_workflow_input():
    ladder = parse_ladder(TEXT, X)
    again = Ladder.model_validate_json(ladder.model_dump_json())
    assert again == ladder
    assert again.min_balance == Decimal("10.00")


# --- refusals with file, line and field ------------------------------------------------------


def test_typo_chanel_in_a_step_is_refused_with_file_line_and_field():
    text = edited("    channel: sms\n", "    chanel: sms\n")
    problem = only_problem(text)
    assert problem.file == Path("x.yaml")
    assert problem.line == line_containing(text, "chanel: sms")
    assert problem.line == 23
    assert "chanel" in problem.field
    assert problem.field == "steps[1] (sms-reminder).chanel"
    assert problem.message == "unknown field (check the spelling)"


def test_typo_at_top_level_points_at_the_misspelt_key():
    text = edited("version: 1 ", "verison: 1 ")
    with pytest.raises(LadderError) as caught:
        parse_ladder(text, X)
    by_field = {problem.field: problem for problem in caught.value.problems}
    assert by_field["verison"].line == line_containing(text, "verison:")
    assert by_field["verison"].message == "unknown field (check the spelling)"
    assert by_field["version"].message == "Field required"


def test_typo_inside_a_flow_mapping_is_refused():
    text = edited("reminder: {days_before: 1", "reminder: {days_befor: 1")
    with pytest.raises(LadderError) as caught:
        parse_ladder(text, X)
    fields = {problem.field for problem in caught.value.problems}
    assert "promise.reminder.days_befor" in fields
    for problem in caught.value.problems:
        assert problem.line == line_containing(text, "days_befor")


def test_money_written_as_a_float_is_refused():
    text = edited('min_balance: "10.00"', "min_balance: 10.5")
    problem = only_problem(text)
    assert problem.field == "min_balance"
    assert problem.line == line_containing(text, "min_balance: 10.5")
    assert "quoted decimal string" in problem.message


def test_money_written_as_an_integer_is_accepted_as_decimal():
    ladder = parse_ladder(edited('min_balance: "10.00"', "min_balance: 10"), X)
    assert ladder.min_balance == Decimal("10")
    assert isinstance(ladder.min_balance, Decimal)


def test_negative_min_balance_is_refused():
    problem = only_problem(edited('min_balance: "10.00"', 'min_balance: "-1.00"'))
    assert problem.field == "min_balance"


def test_unknown_weekday_is_refused_on_the_days_line():
    text = edited("days: [mon, tue, wed, thu, fri, sat]", "days: [mon, tue, wed, thu, fri, sam]")
    problem = only_problem(text)
    assert problem.field == "contact_window.days[5]"
    assert problem.line == line_containing(text, "days: [mon")
    assert "'sun'" in problem.message


def test_weekday_listed_twice_is_refused():
    text = edited("days: [mon, tue, wed, thu, fri, sat]", "days: [mon, tue, mon]")
    problem = only_problem(text)
    assert problem.field == "contact_window.days"
    assert problem.message == "a weekday is listed twice"


def test_window_ending_before_it_starts_is_refused():
    text = edited('start: "08:00"', 'start: "20:00"').replace('end: "21:00"', 'end: "09:00"')
    problem = only_problem(text)
    assert problem.field == "contact_window"
    assert "start must be before end" in problem.message


def test_steps_out_of_day_order_point_at_the_steps_day():
    text = edited("    day: 10\n", "    day: 3\n")
    problem = only_problem(text)
    assert problem.field == "steps[2] (first-letter).day"
    assert problem.line == line_containing(text, "    day: 3")
    assert problem.line == 27
    assert problem.message == "steps must be listed in order of day"


def test_steps_sharing_a_day_are_accepted():
    ladder = parse_ladder(edited("    day: 10\n", "    day: 5\n"), X)
    assert [step.day for step in ladder.steps][:3] == [1, 5, 5]


def test_duplicate_step_id_is_refused_on_the_second_id():
    text = edited("id: first-letter", "id: sms-reminder")
    problem = only_problem(text)
    assert problem.field == "steps[2] (sms-reminder).id"
    assert problem.line == line_containing(text, "id: sms-reminder", occurrence=2)
    assert problem.message == "step id 'sms-reminder' is used twice"


def test_handoff_that_is_not_the_last_step_is_refused():
    text = edited(
        "    action: handoff ",
        "    action: handoff\n"
        "  - id: late-letter\n"
        "    day: 50\n"
        "    channel: letter\n"
        "    template: final-notice\n"
        "#",
    )
    problem = only_problem(text)
    assert problem.field == "steps[5] (handoff).action"
    assert problem.line == line_containing(text, "action: handoff")
    assert problem.message == "the handoff step must be the last step"


def test_us_ladder_window_starting_at_0700_is_refused():
    text = edited('start: "08:00"', 'start: "07:00"')
    problem = only_problem(text)
    assert problem.field == "contact_window"
    assert problem.line == line_containing(text, 'start: "07:00"')
    assert "08:00-21:00" in problem.message
    assert "FDCPA" in problem.message


def test_us_ladder_window_ending_after_2100_is_refused():
    problem = only_problem(edited('end: "21:00"', 'end: "21:30"'))
    assert problem.field == "contact_window"
    assert "08:00-21:00" in problem.message


def test_non_us_ladder_may_open_at_0700():
    text = edited("jurisdiction: us ", "jurisdiction: eu ")
    text = text.replace('start: "08:00"', 'start: "07:00"')
    ladder = parse_ladder(text, X)
    assert ladder.contact_window.start == time(7, 0)


def test_invalid_yaml_reports_the_line_of_the_syntax_error():
    text = edited("name: consumer-standard ", "name: consumer-standard: oops ")
    problem = only_problem(text)
    assert problem.file == X
    assert problem.field == "(yaml)"
    assert problem.line == line_containing(text, "consumer-standard: oops")
    assert problem.line == 5
    assert problem.message == "mapping values are not allowed here"


def test_yaml_that_is_not_a_mapping_is_refused():
    problem = only_problem("- just\n- a list\n")
    assert (problem.line, problem.field) == (1, "(ladder)")


def test_empty_file_is_refused():
    problem = only_problem("")
    assert problem.field == "(ladder)"


def test_unknown_holidays_country_is_refused_on_the_holidays_line():
    text = edited("holidays: US", "holidays: XX")
    problem = only_problem(text)
    assert problem.field == "holidays"
    assert problem.line == line_containing(text, "holidays: XX")
    assert problem.line == 9
    assert problem.message == "no public-holiday calendar for country 'XX'"


def test_unknown_holidays_subdivision_is_refused():
    problem = only_problem(edited("holidays: US", "holidays: US-ZZ"))
    assert problem.field == "holidays"
    assert problem.message == "no public-holiday calendar for 'US-ZZ'"


def test_holidays_with_a_known_subdivision_is_accepted():
    assert parse_ladder(edited("holidays: US", "holidays: US-CA"), X).holidays == "US-CA"


def test_holidays_not_in_iso_shape_is_refused_by_the_model():
    problem = only_problem(edited("holidays: US", "holidays: usa"))
    assert problem.field == "holidays"
    assert problem.line == 9


def test_fallback_equal_to_channel_is_refused_on_the_step():
    text = edited("    fallback: email", "    fallback: sms")
    problem = only_problem(text)
    assert problem.field == "steps[1] (sms-reminder)"
    assert problem.line == line_containing(text, "id: sms-reminder")
    assert problem.message == "fallback must differ from channel"


def test_handoff_with_a_channel_is_refused():
    text = edited("    action: handoff ", "    channel: email\n    action: handoff ")
    problem = only_problem(text)
    assert problem.field == "steps[5] (handoff)"
    assert problem.line == line_containing(text, "id: handoff")
    assert problem.message == "a handoff step takes no channel"


def test_contact_step_without_template_is_refused():
    problem = only_problem(edited("    template: reminder\n", ""))
    assert problem.field == "steps[1] (sms-reminder)"
    assert problem.message == "a contact step needs a template (or variants)"


def test_unknown_channel_name_is_refused_on_its_line():
    text = edited("    channel: sms\n", "    channel: fax\n")
    problem = only_problem(text)
    assert problem.field == "steps[1] (sms-reminder).channel"
    assert problem.line == line_containing(text, "channel: fax")


def test_missing_steps_is_refused():
    problem = only_problem(TEXT.split("steps:")[0])
    assert problem.field == "steps"
    assert problem.message == "Field required"


def test_several_field_problems_are_all_reported_each_with_its_line():
    text = edited("    channel: sms\n", "    chanel: sms\n")
    text = text.replace('min_balance: "10.00"', "min_balance: 10.5")
    with pytest.raises(LadderError) as caught:
        parse_ladder(text, X)
    lines = {problem.field: problem.line for problem in caught.value.problems}
    assert lines == {
        "min_balance": line_containing(text, "min_balance: 10.5"),
        "steps[1] (sms-reminder).chanel": line_containing(text, "chanel: sms"),
    }
    # The exception text has one line per problem.
    assert len(str(caught.value).splitlines()) == len(caught.value.problems)


# --- files, problems and the catalog ---------------------------------------------------------


def test_missing_file_raises_ladder_error_naming_the_file(tmp_path: Path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(LadderError) as caught:
        load_ladder(missing)
    [problem] = caught.value.problems
    assert problem.file == missing
    assert problem.line is None
    assert problem.field == "(file)"
    assert str(problem).startswith(f"{missing}: (file): ")


def test_load_ladder_reports_the_real_path(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text(edited("holidays: US", "holidays: XX"), encoding="utf-8")
    with pytest.raises(LadderError) as caught:
        load_ladder(str(path))
    assert caught.value.problems[0].file == path
    assert str(caught.value).startswith(f"{path}:9: holidays: ")


def test_problem_str_is_file_line_field_message():
    problem = LadderProblem(Path("x.yaml"), 23, "steps[1] (sms-reminder).chanel", "unknown field")
    assert str(problem) == "x.yaml:23: steps[1] (sms-reminder).chanel: unknown field"


def test_problem_str_without_line_omits_it():
    assert str(LadderProblem(Path("x.yaml"), None, "(file)", "gone")) == "x.yaml: (file): gone"


def test_ladder_error_str_from_a_parse_is_file_line_field_message():
    with pytest.raises(LadderError) as caught:
        parse_ladder(edited("    channel: sms\n", "    chanel: sms\n"), X)
    assert str(caught.value) == (
        "x.yaml:23: steps[1] (sms-reminder).chanel: unknown field (check the spelling)"
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_load_catalog_skips_broken_files_in_the_directory(tmp_path: Path):
    write(tmp_path / "good.yaml", TEXT)
    write(tmp_path / "broken.yaml", edited("    channel: sms\n", "    chanel: sms\n"))
    write(tmp_path / "notyaml.yaml", "name: [unclosed\n")
    write(tmp_path / "other.yml", edited("name: consumer-standard ", "name: other-ladder "))
    catalog = load_catalog(tmp_path)
    assert sorted(catalog) == ["consumer-standard", "other-ladder"]


def test_load_catalog_raises_for_an_explicit_broken_extra_file(tmp_path: Path):
    ladders = tmp_path / "ladders"
    ladders.mkdir()
    write(ladders / "good.yaml", TEXT)
    broken = write(tmp_path / "broken.yaml", edited("holidays: US", "holidays: XX"))
    with pytest.raises(LadderError) as caught:
        load_catalog(ladders, broken)
    assert caught.value.problems[0].file == broken


def test_load_catalog_extra_file_wins_over_the_directory(tmp_path: Path):
    ladders = tmp_path / "ladders"
    ladders.mkdir()
    write(ladders / "consumer-standard.yaml", TEXT)
    newer = write(tmp_path / "v2.yaml", edited("version: 1 ", "version: 2 "))
    catalog = load_catalog(ladders, newer)
    assert catalog["consumer-standard"].version == 2


def test_load_catalog_of_missing_directory_is_empty(tmp_path: Path):
    assert load_catalog(tmp_path / "absent") == {}


def test_load_catalog_of_the_shipped_directory_has_both_ladders():
    assert sorted(load_catalog(LADDERS_DIR)) == ["b2b-net30", "consumer-standard"]


def test_line_of_finds_fields_in_a_ladder_file(tmp_path: Path):
    path = write(tmp_path / "l.yaml", TEXT)
    assert line_of(path, ("holidays",)) == line_containing(TEXT, "holidays: US")
    assert line_of(path, ("contact_window",)) == line_containing(TEXT, "contact_window:")
    assert line_of(path, ("steps", 1, "channel")) == 23
    assert line_of(path, ("steps", 1)) == line_containing(TEXT, "id: sms-reminder")
    assert line_of(path, ("promise", "reminder", "template")) == line_containing(
        TEXT, "promise-reminder"
    )


def test_line_of_unknown_field_or_unreadable_file_is_none(tmp_path: Path):
    path = write(tmp_path / "l.yaml", TEXT)
    assert line_of(path, ("nowhere",)) is None
    assert line_of(path, ("steps", 99, "id")) is None
    assert line_of(tmp_path / "missing.yaml", ("name",)) is None
    assert line_of(write(tmp_path / "bad.yaml", "a: [\n"), ("a",)) is None


def test_find_ladder_by_name_looks_in_the_ladders_dir(tmp_path: Path):
    assert find_ladder("consumer-standard", LADDERS_DIR) == CONSUMER
    write(tmp_path / "short.yml", TEXT)
    assert find_ladder("short", tmp_path) == tmp_path / "short.yml"


def test_find_ladder_by_path_returns_the_path(tmp_path: Path):
    assert find_ladder("somewhere/else.yaml", LADDERS_DIR) == Path("somewhere/else.yaml")
    path = write(tmp_path / "noext", TEXT)
    assert find_ladder(str(path), LADDERS_DIR) == path


def test_find_ladder_of_unknown_name_gives_the_yaml_path_to_report():
    assert find_ladder("nope", LADDERS_DIR) == LADDERS_DIR / "nope.yaml"


# --- the model on its own --------------------------------------------------------------------


def test_contact_window_weekday_numbers_follow_python_weekday():
    window = ContactWindow(start=time(9), end=time(17), days=("sun", "mon", "fri"))
    assert window.weekday_numbers == (6, 0, 4)


def test_contact_window_needs_at_least_one_day():
    with pytest.raises(ValidationError):
        ContactWindow(start=time(9), end=time(17), days=())


def test_contact_window_equal_start_and_end_is_refused():
    with pytest.raises(ValidationError, match="start must be before end"):
        ContactWindow(start=time(9), end=time(9), days=("mon",))


def test_step_id_must_be_lowercase_slug():
    problem = only_problem(edited("id: first-letter", "id: First Letter"))
    assert problem.field == "steps[2] (First Letter).id"
    assert problem.line == line_containing(
        edited("id: first-letter", "id: First Letter"), "First Letter"
    )
