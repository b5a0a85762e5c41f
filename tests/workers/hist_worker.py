"""A worker process for the rate-limiter test: ``python -m tests.workers.hist_worker N TOKEN``.

Environment: REDIS_URL, DESK_REPLAY_* as for any process. Makes ``N`` historical requests
through ``historical_client`` (the shared Redis limiter) and prints ``ok N``.
"""

import sys
from datetime import datetime

from app.adapters.kite_historical import historical_client
from app.container import services
from core.timeutil import IST


def main() -> int:
    n, token = int(sys.argv[1]), int(sys.argv[2])
    svc = services()
    client = historical_client(svc.settings, svc.redis)
    client._kite()  # log in before the timed part
    frm = datetime(2016, 8, 16, 9, 15, tzinfo=IST)
    for _ in range(n):
        client.fetch_window(token, frm, datetime(2016, 8, 16, 9, 20, tzinfo=IST), "minute")
    print(f"ok {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
