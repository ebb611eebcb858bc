"""Reading a debtor's free-text reply: ``classify_reply`` (used by the ``classify_reply``
activity and the webhooks); the words, one lexicon per supported language, in ``lexicons/``."""

from __future__ import annotations

from activities.replies.classifier import Classification, ReplyKind, classify_reply

__all__ = ["Classification", "ReplyKind", "classify_reply"]
