"""ASGI entry point for process managers: ``uvicorn anima.asgi:app``."""

from anima.app import create_app

app = create_app()
