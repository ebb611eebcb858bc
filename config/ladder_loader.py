"""Load a ladder YAML file and refuse a broken one with the file, the line and the field.

pydantic says *which* field is wrong (`steps.1.chanel`); the YAML node tree says *where* it is.
We compose the YAML once, validate the plain data, then walk the node tree along each error's
path to find the line ops staff must fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from config.ladder import Ladder

if TYPE_CHECKING:
    from config.profile_checks import ProfileProblem


@dataclass(frozen=True)
class LadderProblem:
    """One thing wrong with a ladder file, as ops staff need to read it. A problem that breaks
    a compliance rule (`config/profile_checks.py`) names the rule and its citation, so ops can
    tell a legal requirement from a typo."""

    file: Path
    line: int | None
    field: str
    message: str
    rule: str | None = None
    citation: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        suffix = f" [{self.rule}, {self.citation}]" if self.rule else ""
        return f"{where}: {self.field}: {self.message}{suffix}"


class LadderError(Exception):
    """A ladder that cannot be used, with every problem found."""

    def __init__(self, problems: list[LadderProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def _node_at(root: yaml.Node | None, path: tuple[int | str, ...]) -> tuple[yaml.Node | None, bool]:
    """The deepest node along `path`; the flag says whether the whole path was found."""
    node = root
    for part in path:
        if isinstance(node, yaml.MappingNode):
            match = next(
                ((key, value) for key, value in node.value if key.value == str(part)), None
            )
            if match is None:
                return node, False
            key, value = match
            # An unknown key ("extra forbidden") is best pointed at by the key itself.
            node = value if value is not None else key
            if part == path[-1] and isinstance(value, yaml.ScalarNode) and value.value == "":
                node = key
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node, False
            node = node.value[part]
        else:
            return node, False
    return node, True


def _key_line(root: yaml.Node | None, path: tuple[int | str, ...]) -> int | None:
    """Line of the key that introduces `path` (better than the value for unknown fields)."""
    if not path:
        return None
    parent, found = _node_at(root, path[:-1])
    if found and isinstance(parent, yaml.MappingNode):
        for key, _ in parent.value:
            if key.value == str(path[-1]):
                return key.start_mark.line + 1
    return None


def _describe_path(path: tuple[int | str, ...], data: Any) -> str:
    """`steps[1].chanel` reads better as `steps[1] (sms-reminder).chanel`."""
    parts: list[str] = []
    node = data
    for part in path:
        if isinstance(part, int):
            label = f"[{part}]"
            if isinstance(node, list) and part < len(node):
                node = node[part]
                if isinstance(node, dict) and isinstance(node.get("id"), str):
                    label += f" ({node['id']})"
            parts.append(label)
        else:
            parts.append(("." if parts else "") + part)
            node = node.get(part) if isinstance(node, dict) else None
    return "".join(parts) or "(ladder)"


def parse_ladder(text: str, file: Path) -> Ladder:
    """Validate ladder YAML text; raise LadderError naming file, line and field."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise LadderError([LadderProblem(file, line, "(yaml)", problem)]) from None
    if not isinstance(data, dict):
        raise LadderError([LadderProblem(file, 1, "(ladder)", "expected a mapping of fields")])
    try:
        ladder = Ladder.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            # pydantic appends union/function tags to locations; keep the data path only.
            path = tuple(part for part in error["loc"] if isinstance(part, int) or "[" not in part)
            message = error["msg"].removeprefix("Value error, ")
            if message.startswith("@") and ": " in message:
                pointer, message = message[1:].split(": ", 1)
                path = path + tuple(
                    int(part) if part.isdigit() else part for part in pointer.split(".")
                )
            node, _ = _node_at(root, path)
            # An unknown key, or a whole list (`variants:` with too few entries), is best pointed
            # at by its key: a block list's own first line is its first entry.
            pointed_by_key = error["type"] == "extra_forbidden" or isinstance(
                node, yaml.SequenceNode
            )
            line = _key_line(root, path) if pointed_by_key else None
            if line is None and node is not None:
                line = node.start_mark.line + 1
            if error["type"] == "extra_forbidden":
                message = "unknown field (check the spelling)"
            problems.append(LadderProblem(file, line, _describe_path(path, data), message))
        raise LadderError(problems) from None
    # Checks that need library data stay out of the model: the model is decoded again inside
    # the workflow sandbox, where importing `holidays` is neither cheap nor allowed.
    problem = _holiday_problem(ladder.holidays)
    if problem:
        node, _ = _node_at(root, ("holidays",))
        line = node.start_mark.line + 1 if node is not None else None
        raise LadderError([LadderProblem(file, line, "holidays", problem)])
    return ladder


def _holiday_problem(code: str | None) -> str | None:
    if code is None:
        return None
    import holidays as holiday_data

    country, _, subdivision = code.partition("-")
    supported = holiday_data.list_supported_countries()
    if country not in supported:
        return f"no public-holiday calendar for country {country!r}"
    if subdivision and subdivision not in supported[country]:
        return f"no public-holiday calendar for {code!r}"
    return None


def load_ladder(
    file: Path | str, *, templates_dir: Path | None = None, default_locale: str = "en"
) -> Ladder:
    """A validated ladder. With `templates_dir`, also refused when it breaks a rule of its
    compliance profile (every place that accepts a ladder for accounts passes it)."""
    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LadderError([LadderProblem(path, None, "(file)", exc.strerror or str(exc))]) from None
    ladder = parse_ladder(text, path)
    if templates_dir is not None:
        problems = profile_refusals(path, ladder, templates_dir, default_locale)
        if problems:
            raise LadderError(problems)
    return ladder


def profile_refusals(
    file: Path, ladder: Ladder, templates_dir: Path, default_locale: str = "en"
) -> list[LadderProblem]:
    """The ladder's compliance-profile problems (`config/profile_checks.py`) at their lines.

    A problem about a field the file leaves to its default (the dispute verification letter,
    say) points at the nearest line written, at worst `jurisdiction:`: the profile is what
    asks for it.
    """
    from config.profile_checks import profile_problems

    found = profile_problems(ladder, templates_dir, default_locale=default_locale)
    return locate_profile_problems(file, ladder, found)


def locate_profile_problems(
    file: Path, ladder: Ladder, found: Sequence[ProfileProblem]
) -> list[LadderProblem]:
    """Profile problems as ladder problems: file, line, field, message, rule and citation."""
    if not found:
        return []
    try:
        root = yaml.compose(file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        root = None
    data = ladder.model_dump(mode="json")
    return [
        LadderProblem(
            file,
            _nearest_line(root, problem.path),
            _describe_path(problem.path, data),
            problem.message,
            rule=problem.rule.value,
            citation=problem.citation,
        )
        for problem in found
    ]


def _line_in(root: yaml.Node | None, path: tuple[int | str, ...]) -> int | None:
    line = _key_line(root, path)
    if line is None:
        node, found = _node_at(root, path)
        line = node.start_mark.line + 1 if node is not None and found else None
    return line


def _nearest_line(root: yaml.Node | None, path: tuple[int | str, ...]) -> int | None:
    for end in range(len(path), 0, -1):
        line = _line_in(root, path[:end])
        if line is not None:
            return line
    return _line_in(root, ("jurisdiction",))


def find_ladder(name_or_path: str, ladders_dir: Path) -> Path:
    """A ladder given by file path or by name (`consumer-standard` → ladders_dir/….yaml)."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    for suffix in (".yaml", ".yml"):
        named = ladders_dir / f"{name_or_path}{suffix}"
        if named.exists():
            return named
    return ladders_dir / f"{name_or_path}.yaml"


def load_catalog(
    ladders_dir: Path,
    *extra_files: Path,
    templates_dir: Path | None = None,
    default_locale: str = "en",
    skipped: list[LadderProblem] | None = None,
) -> dict[str, Ladder]:
    """Every ladder by name: the files in `ladders_dir`, then `extra_files` (which win).

    A broken file in the directory is skipped here (`ladder validate` reports it; `skipped`,
    when given, collects why); a broken file named explicitly raises LadderError. With
    `templates_dir`, a ladder that breaks its compliance profile counts as broken.
    """
    catalog: dict[str, Ladder] = {}
    if ladders_dir.is_dir():
        for path in sorted([*ladders_dir.glob("*.yaml"), *ladders_dir.glob("*.yml")]):
            try:
                ladder = load_ladder(
                    path, templates_dir=templates_dir, default_locale=default_locale
                )
            except LadderError as exc:
                if skipped is not None:
                    skipped.extend(exc.problems)
                continue
            catalog[ladder.name] = ladder
    for path in extra_files:
        ladder = load_ladder(path, templates_dir=templates_dir, default_locale=default_locale)
        catalog[ladder.name] = ladder
    return catalog


def line_of(file: Path, path: tuple[int | str, ...]) -> int | None:
    """The line of a field in a ladder file, for errors found after validation."""
    try:
        root = yaml.compose(file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return None
    return _line_in(root, path)


def line_near(file: Path, path: tuple[int | str, ...]) -> int | None:
    """`line_of`, or for a field the file leaves to its default the nearest line written (at
    worst `jurisdiction:`, the field that makes a profile ask for it)."""
    try:
        root = yaml.compose(file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return None
    return _nearest_line(root, path)
