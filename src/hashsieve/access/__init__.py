"""Who may use the web app, and the record of what they did: users and roles (``auth``), the
request dependencies every route uses (``web``: who is asking, CSRF, origin, case and file
access), the append-only audit log (``audit``) and per-user settings (``preferences``).

Shared by the review workspace and the sensor console, which sit above it.
"""
