"""SendGrid: email out (`send.py`), its error mapping (`errors.py`), and the webhooks in: the
signed Event Webhook and Inbound Parse (`signatures.py`, `webhooks.py`, `email_text.py`)."""
