"""The review workspace: triage, categorise and share a case (``hashsieve serve``).

Library modules (queries, decisions, thumbnails, exports, the offline map, video contact sheets)
and the routes over them (``views``); the app that serves them is composed in
:mod:`hashsieve.web`, over the shared access layer :mod:`hashsieve.access`.
"""
