"""`taskapi.asgi:app`, the one import target every Python server runs."""

from taskapi.app import create_app

app = create_app()
