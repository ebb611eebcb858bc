"""What every event gets back: accepted (with detail), or refused with a reason."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Answer:
    accepted: bool = True
    reason: str | None = None
    detail: dict[str, str] = field(default_factory=dict)


def refused(reason: str) -> Answer:
    return Answer(False, reason)
