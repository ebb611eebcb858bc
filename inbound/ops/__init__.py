"""The ops console (`/ops` in the webhook server): see `inbound/ops/app.py` and docs/ops.md."""

from inbound.ops.app import create_ops_app
from inbound.ops.auth import console_enabled

__all__ = ["console_enabled", "create_ops_app"]
