"""Sources: storefront platforms whose own webhooks the gateway turns into Integration API calls.

Each source is pure code (no I/O): it verifies a platform's webhook and maps its payload to
what to send to Talon.One; functions and delivery workers do the sending.
"""
