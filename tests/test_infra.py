"""The test servers themselves are real and reachable."""

import psycopg
import redis


def test_redis_server_answers_ping(redis_url):
    client = redis.Redis.from_url(redis_url)
    assert client.ping() is True
    assert client.info("server")["redis_version"]


def test_postgres_database_is_a_throwaway_one(postgres_url):
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        name = conn.execute("select current_database()").fetchone()[0]
        version = conn.execute("show server_version_num").fetchone()[0]
    assert name.startswith("paperdesk_test_")
    assert int(version) >= 130000
