"""The webhook server's routers, one per sender; `inbound/app.py` includes them all."""
