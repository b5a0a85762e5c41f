"""``python -m app.api [--host H] [--port P] [--workers N]``: run the API under uvicorn.

The Procfile passes ``DESK_API_ADDRESS`` (default 127.0.0.1), ``DESK_API_PORT`` (8502) and
``DESK_API_WORKERS`` (1) from the shell, as it does ``PORT`` for the dashboard.
"""

from __future__ import annotations

import argparse
import sys

from app.lean_pandas import without_pyarrow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.api", description="PaperDesk REST API (/api/v1)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8502, help="TCP port (default 8502)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65_535:
        parser.error(f"--port must be 1 – 65,535, was {args.port}")
    if not 1 <= args.workers <= 64:
        parser.error(f"--workers must be 1 – 64, was {args.workers}")
    without_pyarrow()  # before pandas (app.lean_pandas): ~32 MB less; the API never uses Arrow
    from app.api.serving import serve

    serve("app.api.server:create_app", host=args.host, port=args.port, workers=args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
