"""The local web app and HTTP API: `searchengine serve`. Needs the `serve` extra (FastAPI, uvicorn)."""

from searchengine.server.app import allowed_hosts_for, create_app

__all__ = ["allowed_hosts_for", "create_app"]
