"""Integration tests: real PostgreSQL, Redis and Celery workers. Run them with scripts/test (see docs/testing.md)."""
