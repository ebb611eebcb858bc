"""The SendGrid half of the provider fakes: v3 mail send, and the Event Webhook's `processed`.

`Authorization: Bearer <key>`; `POST /v3/mail/send` validated as SendGrid does (all errors at
once, with `field` and `help`), 202 with an `X-Message-Id`. `sendgrid_processed_events()` are
the `processed` events SendGrid's Event Webhook posts for the emails it accepted
(`sendgrid_events.py`).
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from tests.fakes.common import Fail, RecordedRequest, Reply, json_type
from tests.fakes.sendgrid_events import processed_events

SENDGRID_PREFIX = "/v3/"
SENDGRID_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"
SENDGRID_RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)

# Good enough to tell an address from a name or a typo; SendGrid's own check is not public.
EMAIL = re.compile(r"[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+")


def sendgrid_error(
    status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> Reply:
    return Reply(status, {"errors": errors}, headers or {})


def sg_problem(message: str, field_name: str | None, help_anchor: str | None) -> dict[str, Any]:
    """One entry of SendGrid's `errors` array; `help` is a link (a string) in real answers."""
    return {
        "message": message,
        "field": field_name,
        "help": f"{SENDGRID_HELP}#{help_anchor}" if help_anchor else None,
    }


class FakeSendGrid:
    """SendGrid's mail send, mixed into `FakeProviders`, which owns the state used here."""

    sendgrid_api_key: str
    clock: Callable[[], datetime]
    emails: list[dict[str, Any]]
    email_message_ids: list[str]
    email_accepted_at: list[datetime]
    _lock: threading.RLock

    def _sendgrid(self, request: RecordedRequest) -> Reply:
        authorization = request.header("Authorization")
        if not authorization:
            raise Fail(sendgrid_error(401, [{"field": None, "message": "authorization required"}]))
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(key, self.sendgrid_api_key):
            raise Fail(
                sendgrid_error(
                    401,
                    [
                        {
                            "field": None,
                            "message": "The provided authorization grant is invalid, "
                            "expired, or revoked",
                        }
                    ],
                )
            )
        if request.path.rstrip("/") != "/v3/mail/send":
            raise Fail(sendgrid_error(404, [{"field": None, "message": "not found"}]))
        if request.method != "POST":
            raise Fail(sendgrid_error(405, [{"field": None, "message": "method not allowed"}]))
        media_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise Fail(
                sendgrid_error(
                    400,
                    [sg_problem("Content-Type should be application/json.", None, None)],
                )
            )
        if not isinstance(request.json, dict):
            raise Fail(sendgrid_error(400, [sg_problem("Bad Request", None, None)]))
        problems = sendgrid_mail_problems(request.json, now=self.clock())
        if problems:
            raise Fail(sendgrid_error(400, problems))
        message_id = secrets.token_urlsafe(16)
        with self._lock:
            self.emails.append(request.json)
            self.email_message_ids.append(message_id)
            self.email_accepted_at.append(self.clock())
        return Reply(202, None, {"X-Message-Id": message_id})

    def sendgrid_processed_events(self) -> list[dict[str, Any]]:
        """The `processed` events of every accepted email, as the Event Webhook posts them
        (the same ids on every call, like SendGrid retrying a post)."""
        with self._lock:
            accepted = list(
                zip(self.emails, self.email_message_ids, self.email_accepted_at, strict=True)
            )
        return [
            event
            for mail, message_id, at in accepted
            for event in processed_events(mail, message_id, at)
        ]


def sendgrid_mail_problems(mail: dict[str, Any], *, now: datetime) -> list[dict[str, Any]]:
    """What SendGrid's mail send refuses in `mail`, as entries of its `errors` array.

    Beyond the spec's `required` lists, SendGrid enforces rules the schema cannot express
    (a subject somewhere unless a template, content unless a template, valid addresses, no
    duplicate recipients in a personalization, text/plain first). All are reported at once,
    as SendGrid does.
    """
    problems: list[dict[str, Any]] = []
    has_template = bool(mail.get("template_id"))

    personalizations = mail.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        problems.append(
            sg_problem(
                "The personalizations field is required and must have at least one "
                "personalization.",
                "personalizations",
                "-Personalizations-Errors",
            )
        )
        personalizations = []
    elif len(personalizations) > 1000:
        problems.append(
            sg_problem(
                "The personalizations field may not contain more than 1000 personalizations.",
                "personalizations",
                "-Personalizations-Errors",
            )
        )
    for index, personalization in enumerate(personalizations):
        problems.extend(_personalization_problems(index, personalization))

    sender = mail.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        problems.append(
            sg_problem(
                "The from object must be provided for every email send. It is an object that "
                "requires the email parameter, but may also contain a name parameter.  e.g. "
                '{"email" : "example@example.com"}  or {"email" : "example@example.com", '
                '"name" : "Example Recipient"}.',
                "from.email",
                "message.from",
            )
        )
    elif not _is_email(sender["email"]):
        problems.append(
            sg_problem(
                "The from email does not contain a valid address.", "from.email", "message.from"
            )
        )
    reply_to = mail.get("reply_to")
    if isinstance(reply_to, dict) and not _is_email(reply_to.get("email")):
        problems.append(
            sg_problem(
                "The reply_to email does not contain a valid address.",
                "reply_to.email",
                "message.reply_to",
            )
        )

    everyone_has_subject = bool(personalizations) and all(
        isinstance(p, dict) and p.get("subject") for p in personalizations
    )
    if not has_template and not mail.get("subject") and not everyone_has_subject:
        problems.append(
            sg_problem(
                "The subject is required. You can get around this requirement if you use a "
                "template with a subject defined or if every personalization has a subject "
                "defined.",
                "subject",
                "message.subject",
            )
        )

    problems.extend(_content_problems(mail.get("content"), has_template))
    problems.extend(_custom_args_problems(mail.get("custom_args"), "custom_args"))

    categories = mail.get("categories")
    if categories is not None:
        if not isinstance(categories, list) or len(categories) > 10:
            problems.append(
                sg_problem(
                    "Too many categories on this message. The maximum number of categories is 10.",
                    "categories",
                    "message.categories",
                )
            )
        elif any(not isinstance(c, str) or len(c) > 255 for c in categories):
            problems.append(
                sg_problem(
                    "A category name must be a string of at most 255 characters.",
                    "categories",
                    "message.categories",
                )
            )

    headers = mail.get("headers")
    if isinstance(headers, dict):
        for name, value in headers.items():
            if name.lower() in SENDGRID_RESERVED_HEADERS:
                problems.append(
                    sg_problem(
                        f"The header {name} is reserved and cannot be set.",
                        "headers",
                        "message.headers",
                    )
                )
            elif not isinstance(value, str):
                problems.append(
                    sg_problem(
                        f"Invalid type. Expected: string, given: {json_type(value)}.",
                        f"headers.{name}",
                        "message.headers",
                    )
                )

    send_at = mail.get("send_at")
    if isinstance(send_at, int) and send_at > (now + timedelta(hours=72)).timestamp():
        problems.append(
            sg_problem(
                "The send_at parameter cannot be scheduled more than 72 hours in advance.",
                "send_at",
                "message.send_at",
            )
        )
    return problems


def _personalization_problems(index: int, personalization: Any) -> list[dict[str, Any]]:
    where = f"personalizations.{index}"
    if not isinstance(personalization, dict):
        return [sg_problem("Each personalization must be an object.", where, None)]
    problems: list[dict[str, Any]] = []
    to = personalization.get("to")
    if not isinstance(to, list) or not to:
        problems.append(
            sg_problem(
                "The to array is required for all personalization objects, and must have at "
                "least one email object with a valid email address.",
                f"{where}.to",
                "message.personalizations.to",
            )
        )
    seen: set[str] = set()
    for kind in ("to", "cc", "bcc"):
        recipients = personalization.get(kind)
        if not isinstance(recipients, list):
            continue
        for position, recipient in enumerate(recipients):
            address = recipient.get("email") if isinstance(recipient, dict) else None
            if not _is_email(address):
                problems.append(
                    sg_problem(
                        "Does not contain a valid address.",
                        f"{where}.{kind}.{position}.email",
                        f"message.personalizations.{kind}",
                    )
                )
                continue
            lowered = cast(str, address).lower()
            if lowered in seen:
                problems.append(
                    sg_problem(
                        "Each email address in the personalization block should be unique "
                        f"between to, cc, and bcc. We found the first duplicate instance of "
                        f"[{address}] in the {where}.{kind} field.",
                        f"{where}.{kind}",
                        "message.recipient_errors",
                    )
                )
            seen.add(lowered)
    sender = personalization.get("from")
    if sender is not None and not (isinstance(sender, dict) and _is_email(sender.get("email"))):
        problems.append(
            sg_problem(
                "The from email does not contain a valid address.",
                f"{where}.from.email",
                "message.personalizations.from",
            )
        )
    problems.extend(
        _custom_args_problems(personalization.get("custom_args"), f"{where}.custom_args")
    )
    return problems


def _content_problems(content: Any, has_template: bool) -> list[dict[str, Any]]:
    if not content:
        if has_template:
            return []
        return [
            sg_problem(
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block. We typically suggest both "
                "text/plain and text/html blocks are included, but only one block is required.",
                "content",
                "message.content",
            )
        ]
    if not isinstance(content, list):
        return [sg_problem("The content parameter must be an array.", "content", "message.content")]
    problems: list[dict[str, Any]] = []
    types: list[str] = []
    for index, block in enumerate(content):
        block = block if isinstance(block, dict) else {}
        if not isinstance(block.get("type"), str) or not block.get("type"):
            problems.append(
                sg_problem(
                    "The content type must be a string at least one character in length.",
                    f"content.{index}.type",
                    "message.content.type",
                )
            )
        else:
            types.append(block["type"].lower())
        if not isinstance(block.get("value"), str) or not block.get("value"):
            problems.append(
                sg_problem(
                    "The content value must be a string at least one character in length.",
                    f"content.{index}.value",
                    "message.content.value",
                )
            )
    if ("text/plain" in types and types[0] != "text/plain") or (
        "text/html" in types and types.index("text/html") > (1 if "text/plain" in types else 0)
    ):
        problems.append(
            sg_problem(
                "If present, text/plain must be first, followed by html, followed by any other "
                "content.",
                "content",
                "message.content",
            )
        )
    return problems


def _custom_args_problems(custom_args: Any, where: str) -> list[dict[str, Any]]:
    if custom_args is None:
        return []
    if not isinstance(custom_args, dict):
        return [
            sg_problem(
                f"Invalid type. Expected: object, given: {json_type(custom_args)}.",
                where,
                "message.custom_args",
            )
        ]
    return [
        sg_problem(
            f"Invalid type. Expected: string, given: {json_type(value)}.",
            f"{where}.{name}",
            "message.custom_args",
        )
        for name, value in custom_args.items()
        if not isinstance(value, str)
    ]


def _is_email(value: Any) -> bool:
    return isinstance(value, str) and bool(EMAIL.fullmatch(value))
