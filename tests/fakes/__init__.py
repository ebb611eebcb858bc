"""Local stand-ins for the providers (Twilio, SendGrid) that speak their real HTTP APIs.

`providers.FakeProviders` serves both APIs on one local port; `provider_spec` checks what was
sent (and answered) against the providers' official OpenAPI specs.
"""
