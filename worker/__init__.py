"""The Celery side of briefmail: the app, its beat schedule and thin tasks.

`celery -A worker.app worker -B` (or `briefmail worker`) runs it. Every task calls
the same `briefmail.sending.engine.Engine` that runs in-process when no broker is
configured; the database, not the broker, holds the state of every send.
"""
