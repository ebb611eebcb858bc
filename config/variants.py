"""Which template variant (A/B/n) of a ladder step an account gets.

The assignment is a pure function of (ladder name, step id, account id) through sha256, never
Python's `hash()` (salted per process) nor a random draw: the workflow, a replay of its
history, `dunning simulate`, `dunning preview` and the report all compute the same variant for
the same account, in any process, on any machine, with nothing stored.

The ladder's *version* is not part of the key, so publishing version 2 of a ladder keeps every
account on its wording. The step's variants are: changing their weights or their order moves
some accounts to another wording (`tests/test_variants.py` pins a few golden assignments so
that such a change is noticed).
"""

from __future__ import annotations

from hashlib import sha256

from config.ladder import Step, Variant

# Separates the key's parts, so ("a-b", "c") and ("a", "b-c") can never collide.
_SEPARATOR = "\x1f"


def _hash64(ladder_name: str, step_id: str, account_id: str) -> int:
    """The first 8 bytes of the key's sha256: uniform over [0, 2**64)."""
    key = _SEPARATOR.join((ladder_name, step_id, account_id)).encode("utf-8")
    return int.from_bytes(sha256(key).digest()[:8], "big")


def assign(ladder_name: str, step: Step, account_id: str) -> Variant | None:
    """The variant of `step` this account gets, each with probability weight / total weight;
    None for a step without variants."""
    if not step.variants:
        return None
    total = sum(variant.weight for variant in step.variants)
    # Integer arithmetic on the hash: no float rounding can move an account across a boundary.
    point = _hash64(ladder_name, step.id, account_id) * total >> 64
    for variant in step.variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    raise AssertionError("unreachable: point < total weight")  # pragma: no cover


def template_for(ladder_name: str, step: Step, account_id: str) -> str:
    """The template this account gets for `step`: its variant's, or the step's own."""
    variant = assign(ladder_name, step, account_id)
    if variant is not None:
        return variant.template
    if step.template is None:
        raise ValueError(f"step {step.id!r} sends no message (a handoff has no template)")
    return step.template


def variant_for(ladder_name: str, step: Step, account_id: str) -> str | None:
    """What a contact record's `variant` says: the assigned template name, or None."""
    variant = assign(ladder_name, step, account_id)
    return variant.template if variant is not None else None


def shares(step: Step) -> dict[str, float]:
    """Each variant's expected share of accounts (template → weight / total), for display."""
    if not step.variants:
        return {}
    total = sum(variant.weight for variant in step.variants)
    return {variant.template: variant.weight / total for variant in step.variants}
