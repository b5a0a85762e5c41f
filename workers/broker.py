"""Install the Dramatiq broker. Import this before any ``@dramatiq.actor``: without it,
``dramatiq.get_broker()`` silently falls back to RabbitMQ on 127.0.0.1 (infra-notes §5).

The ``worker`` process runs ``dramatiq workers.actors``; every actor module imports this first.
"""

from app.adapters.queue import install_broker
from app.settings import get_settings

broker = install_broker(get_settings())
