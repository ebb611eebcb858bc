"""How messages leave (and provider reports come back): one folder per provider.

Shared by every provider: the transport interface (`base.py`), the send ledger (`ledger.py`),
the live dispatcher (`live.py`), reconciling after a lost result (`reconcile.py`), the offline
outbox (`outbox.py`), write-once files (`files.py`), unsubscribe links (`unsubscribe.py`) and
what error mappings share (`errors.py`). Per provider: `sendgrid/`, `twilio/`, `letters/`.
"""
