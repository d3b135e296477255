"""Service functions: what the command line and the HTTP API both call (no logic twice).

Each raises :class:`orqo.errors.ApiError` with the HTTP status and details a client should see.
"""
