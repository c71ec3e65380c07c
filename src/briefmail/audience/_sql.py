"""Core-level pieces shared by the audience services' set-based statements.

The mapped tables are exposed as typed `Table`s for Core statements. Inserts that
must survive a concurrent writer use `briefmail.db.dialect.insert_ignoring`.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from briefmail.db.models import Subscriber, Suppression, Topic, subscriber_topics

SUBSCRIBERS = cast(Table, Subscriber.__table__)
SUPPRESSIONS = cast(Table, Suppression.__table__)
TOPICS = cast(Table, Topic.__table__)
SUBSCRIBER_TOPICS = subscriber_topics
