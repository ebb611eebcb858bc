"""`dunning ladder validate|show`: schema errors and template checks, named by file and line."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from activities.limited_content import limited_content_problems
from activities.render import RenderError, TemplateRenderer, sample_facts
from activities.sms_opt_out import with_opt_out
from activities.sms_segments import MAX_SEGMENTS, count_segments
from config.ladder import EXTENSIONS, Channel, Jurisdiction, Ladder, Step
from config.ladder_loader import (
    LadderError,
    LadderProblem,
    line_near,
    load_ladder,
    locate_profile_problems,
)
from config.profile_checks import message_path, profile_problems
from config.settings import Settings
from config.variants import shares
from worker import renderer_for


def template_problems(
    file: Path,
    ladder: Ladder,
    renderer: TemplateRenderer,
    reported: frozenset[tuple[int | str, ...]] = frozenset(),
) -> tuple[list[LadderProblem], list[str]]:
    """Every template the ladder names must exist for the default locale and render.

    `reported`: YAML paths a compliance check already refused (the dispute verification
    letter's missing template, say), whose missing template is not reported a second time.
    """
    problems: list[LadderProblem] = []
    warnings: list[str] = []
    locale = renderer.default_locale
    for where, channel, template in ladder.messages():
        path = renderer.path_for(channel, template, locale)
        yaml_path = message_path(ladder, where)
        line = line_near(file, yaml_path)
        field = where.replace("steps.", "steps[") + ("]" if where.startswith("steps.") else "")
        if not (renderer.templates_dir / path).is_file():
            if yaml_path not in reported:
                problems.append(LadderProblem(file, line, field, f"template {path} does not exist"))
            continue
        for candidate in sorted(renderer.templates_dir.glob(f"{channel.value}/{template}.*")):
            candidate_locale = candidate.name.split(".")[1]
            try:
                message = renderer.render(
                    channel, template, sample_facts(candidate_locale, ladder.jurisdiction.value)
                )
            except RenderError as exc:
                problems.append(LadderProblem(file, line, field, f"does not render: {exc}"))
                continue
            if channel == Channel.VOICEMAIL and ladder.jurisdiction == Jurisdiction.US:
                problems.extend(
                    LadderProblem(file, line, field, text)
                    for text in limited_content_problems(
                        candidate, message.text, renderer.creditor.name
                    )
                )
            if channel == Channel.SMS:
                text = with_opt_out(message.text, candidate_locale, ladder.jurisdiction.value)
                count = count_segments(text)
                if count.segments > MAX_SEGMENTS:
                    warnings.append(
                        f"{file}:{line}: {field}: {candidate.name} takes {count.segments} "
                        f"SMS segments ({count.encoding}, {count.units} units) with a long name"
                    )
    problems.extend(variant_locale_problems(file, ladder, renderer))
    return problems, warnings


def variant_locale_problems(
    file: Path, ladder: Ladder, renderer: TemplateRenderer
) -> list[LadderProblem]:
    """A step's variants must speak the same languages: a variant missing a locale its sibling
    has would send that arm's debtors the default language, a wrong-language collection
    message and a biased comparison."""
    problems: list[LadderProblem] = []
    for index, step in enumerate(ladder.steps):
        if not step.variants:
            continue
        for channel in (c for c in (step.channel, step.fallback) if c is not None):
            locales = {
                variant.template: _locales(renderer, channel, variant.template)
                for variant in step.variants
            }
            every = set().union(*locales.values())
            for position, variant in enumerate(step.variants):
                for locale in sorted(every - locales[variant.template]):
                    path = renderer.path_for(channel, variant.template, locale)
                    field = f"steps[{step.id}].variants[{position}].template"
                    yaml_path: tuple[int | str, ...] = ("steps", index, "variants", position)
                    problems.append(
                        LadderProblem(
                            file,
                            line_near(file, yaml_path),
                            field,
                            f"template {path} does not exist, while another variant of the "
                            f"step has {locale}: every variant needs the same locales",
                        )
                    )
    return problems


def _locales(renderer: TemplateRenderer, channel: Channel, template: str) -> set[str]:
    """The locales the renderer would find: `<template>.<locale>.<channel's extension>` only (a
    stray `.txt` beside an email's `.html` files speaks no language the renderer uses)."""
    pattern = f"{channel.value}/{template}.*.{EXTENSIONS[channel]}"
    return {candidate.name.split(".")[1] for candidate in renderer.templates_dir.glob(pattern)}


def validate_files(files: list[Path], settings: Settings) -> tuple[list[str], list[str]]:
    """What `ladder validate` and `simulate` refuse: the schema, then every template, then the
    rules of the ladder's compliance profile (`config/profile_checks.py`)."""
    renderer = renderer_for(settings)
    problems: list[str] = []
    warnings: list[str] = []
    for file in files:
        try:
            ladder = load_ladder(file)
        except LadderError as exc:
            problems.extend(str(problem) for problem in exc.problems)
            continue
        compliance = profile_problems(
            ladder, renderer.templates_dir, default_locale=renderer.default_locale
        )
        refused = locate_profile_problems(file, ladder, compliance)
        reported = frozenset(problem.path for problem in compliance)
        found, warned = template_problems(file, ladder, renderer, reported)
        problems.extend(str(problem) for problem in [*found, *refused])
        warnings.extend(warned)
    return problems, warnings


def ladder_table(ladder: Ladder) -> Table:
    window = ladder.contact_window
    table = Table(
        title=f"{ladder.name} v{ladder.version} — {ladder.description}".rstrip(" —"),
        caption=(
            f"window {window.start:%H:%M}-{window.end:%H:%M} {','.join(window.days)}"
            f" (debtor's zone); holidays {ladder.holidays or 'none'}; "
            f"jurisdiction {ladder.jurisdiction.value}; closed as paid below {ladder.min_balance}"
        ),
    )
    for column in ("day", "step", "channel", "template", "fallback", "deadline"):
        table.add_column(column, justify="right" if column == "day" else "left")
    for step in ladder.steps:
        table.add_row(
            str(step.day),
            step.id,
            "handoff" if step.is_handoff else (step.channel.value if step.channel else ""),
            _templates(step),
            step.fallback.value if step.fallback else "",
            f"+{step.deadline_days} days" if step.deadline_days else "",
        )
    return table


def _templates(step: Step) -> str:
    """The step's template, or one line per A/B/n variant with its weight and expected share."""
    if step.variants is None:
        return step.template or ""
    share = shares(step)
    return "\n".join(
        f"{variant.template} (weight {variant.weight}, {share[variant.template]:.0%})"
        for variant in step.variants
    )
