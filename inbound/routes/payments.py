"""POST /payments: a signed payment notice from the payment processor → a `payment` event.

The signature is checked first (`verify_payment_signature`: 403, nothing applied). The notice's
`payment_id` becomes the event id, so a processor's retry is applied once. A currency that is
not the account's is refused (422): converting money is not ours to do.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from inbound.context import WebhookContext, webhook_context
from inbound.security import verify_payment_signature
from workflows.types import AccountEvent

log = logging.getLogger("dunning.webhooks")

router = APIRouter()


class PaymentNotice(BaseModel):
    """POST /payments body. `amount` is a decimal string: money never passes through float."""

    model_config = ConfigDict(extra="ignore")

    payment_id: str = Field(min_length=1, max_length=200)
    account_id: str = Field(min_length=1, max_length=200)
    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")

    @field_validator("amount", mode="before")
    @classmethod
    def _decimal_string(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError('amount must be a decimal string such as "120.50"')
        return value


@router.post("/payments")
async def payments(
    body: Annotated[bytes, Depends(verify_payment_signature)],
    context: Annotated[WebhookContext, Depends(webhook_context)],
) -> Response:
    try:
        notice = PaymentNotice.model_validate_json(body)
    except ValidationError as exc:
        fields = ", ".join(str(error["loc"][0]) for error in exc.errors() if error["loc"])
        return JSONResponse({"error": f"invalid payment notice: {fields or 'body'}"}, 422)
    view = await context.accounts.view(notice.account_id)
    if view is None:
        return JSONResponse({"error": f"no account {notice.account_id}"}, 404)
    if notice.currency != view.currency:
        log.info("/payments %s: refused, currency is not the account's", notice.payment_id)
        return JSONResponse(
            {"error": f"currency {notice.currency} is not the account's ({view.currency})"},
            422,
        )
    result = await context.apply(
        notice.account_id,
        AccountEvent(
            event_id=f"payment:{notice.payment_id}",
            type="payment",
            amount=notice.amount,
            source="payments",
        ),
    )
    if result is None:
        return JSONResponse({"error": f"no account {notice.account_id}"}, 404)
    return JSONResponse(result.model_dump(mode="json"), 200)
