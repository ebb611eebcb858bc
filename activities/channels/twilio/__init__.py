"""Twilio: SMS and voicemail out (`send.py`, `twiml.py`, `call_scripts.py`), its error codes
(`errors.py`), and the webhooks in: request signatures and form parsing (`signatures.py`,
`webhooks.py`)."""
