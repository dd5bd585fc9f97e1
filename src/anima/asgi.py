"""ASGI entry point for process managers: ``uvicorn anima.asgi:app``.

Once started (database open, every module imported) the process settles its heap
(:func:`anima.process_tuning.settle_heap`: the start's objects frozen out of garbage collection).
"""

from anima.app import create_app
from anima.process_tuning import settle_heap

app = create_app()
app.on_startup.append(settle_heap)
