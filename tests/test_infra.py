"""The test servers themselves are real and reachable."""

import psycopg
import redis


def test_redis_server_answers_ping(redis_url):
    client = redis.Redis.from_url(redis_url)
    assert client.ping() is True
    assert client.info("server")["redis_version"]


def test_postgres_database_is_fresh(postgres_url):
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        tables = conn.execute("select count(*) from pg_tables where schemaname = 'public'").fetchone()[0]
    assert tables == 0
