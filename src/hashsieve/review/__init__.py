"""The review workspace: a web app to triage, categorise and share (``hashsieve serve``).

``create_app(store, case=...)`` builds the FastAPI app; ``auth.add_user`` creates users. The web
layer is thin: queries, decisions, audit, thumbnails and exports are library modules here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashsieve.review.app import create_app


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from hashsieve.review.app import create_app

        return create_app
    raise AttributeError(name)


__all__ = ["create_app"]
