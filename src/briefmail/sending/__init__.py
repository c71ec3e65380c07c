"""The send engine: a per-recipient ledger, batches claimed in transactions, backends.

Everything here is driven from the database: a scheduled send, a batch waiting for
its retry and a local-time batch are all rows with a due time, found by beat's tick.
Nothing depends on a Celery message surviving, so a lost or repeated message can
neither skip nor double a recipient.
"""
