"""What every provider's error mapping shares: which answers may hide an accepted message, the
retry delay a provider asks for, and contact data kept out of error texts.

Each provider maps its own answers to the transport exceptions (`activities/channels/base.py`)
in its own module: `twilio/errors.py` (one table of codes, so a code seen in production is added
in one place) and `sendgrid/errors.py`.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping

# Answers to a *send* (SendGrid's mail send, Twilio's message or call create) after which the
# provider may have accepted the message all the same: its front end timed out or failed while
# the back end went on (SendGrid and Twilio both document accepted-then-5xx). The send is
# "maybe sent": the ledger keeps the claim in doubt and the next attempt reconciles first.
# 429 is a refusal before any work, and a 5xx on a list or lookup sent nothing.
MAYBE_SENT_STATUSES = frozenset({500, 502, 503, 504})


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """`Retry-After` (seconds or an HTTP date), else SendGrid's `X-RateLimit-Reset` (Unix time)."""
    if not headers:
        return None
    lowered = {key.lower(): value for key, value in headers.items()}
    value = (lowered.get("retry-after") or "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            parsed = email.utils.parsedate_to_datetime(value)
            return max(0.0, parsed.timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    reset = lowered.get("x-ratelimit-reset")
    if reset and reset.strip().isdigit():
        return max(1.0, float(reset) - time.time())
    return None


_PHONE = re.compile(r"\+?\d[\d ().-]{5,}\d")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def redact(text: str) -> str:
    """Provider messages quote the recipient ("The 'To' number +1415… is not valid"); errors go
    into Temporal's history and the logs, which must not hold contact data."""
    return _EMAIL.sub("<email>", _PHONE.sub("<number>", text))
