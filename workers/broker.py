"""Install the Dramatiq broker. Import this before any ``@dramatiq.actor``: without it,
``dramatiq.get_broker()`` silently falls back to RabbitMQ on 127.0.0.1 (infra-notes §5).

The ``worker`` process runs ``dramatiq workers.actors``; every actor module imports this first.
With ``DESK_WORKER_PANDAS_ARROW=false`` (the Procfile's worker) pandas is then imported without
pyarrow in this process (``app.lean_pandas``): no actor uses Arrow.
"""

from app.lean_pandas import without_pyarrow
from app.settings import get_settings

if not get_settings().worker.pandas_arrow:
    without_pyarrow()

from app.adapters.queue import install_broker  # noqa: E402  (after the pandas choice above)

broker = install_broker(get_settings())
