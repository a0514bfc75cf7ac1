"""The web app, composed in one place: the review workspace's routes and the sensor console's
routes over the shared access layer (:mod:`hashsieve.access`). ``create_app(store, case=...)``."""

from hashsieve.web.app import create_app

__all__ = ["create_app"]
