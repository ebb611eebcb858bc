"""The scripted events of `dunning simulate --events FILE` (CONTRACT §5, events.example.yaml).

Each item: `{account, day, type, ...fields of the event}`. A bad item is refused with the file,
the line and the field, like a bad ladder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ConfigDict, Field, ValidationError

from workflows.types import AccountEvent


class ScriptedEvent(AccountEvent):
    model_config = ConfigDict(extra="forbid")

    account: str
    day: float = Field(ge=0)


@dataclass(frozen=True)
class TimedEvent:
    line: int
    account_id: str
    day: float
    event: AccountEvent


class EventsFileError(Exception):
    pass


def load_events(path: Path) -> list[TimedEvent]:
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except OSError as exc:
        raise EventsFileError(f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise EventsFileError(f"{path}:{line}: (yaml): {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return []
    if not isinstance(data, list) or not isinstance(root, yaml.SequenceNode):
        raise EventsFileError(f"{path}:1: (events): expected a list of events")
    events = []
    for index, (item, node) in enumerate(zip(data, root.value, strict=True)):
        line = node.start_mark.line + 1
        if not isinstance(item, dict):
            raise EventsFileError(f"{path}:{line}: [{index}]: expected a mapping")
        try:
            scripted = ScriptedEvent.model_validate({**item, "source": "simulation"})
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(part) for part in error["loc"]) or "(event)"
            raise EventsFileError(f"{path}:{line}: {field}: {error['msg']}") from None
        event = AccountEvent.model_validate(
            scripted.model_dump(exclude={"account", "day"})
            | {"event_id": f"simulation-{index + 1}"}
        )
        events.append(TimedEvent(line, scripted.account, scripted.day, event))
    return sorted(events, key=lambda timed: (timed.day, timed.line))
