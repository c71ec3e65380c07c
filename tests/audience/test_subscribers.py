"""Addresses, subscribers, suppressions and topics, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from briefmail.audience.subscribers import (
    InvalidEmailError,
    add_subscriber,
    iter_subscribers,
    normalise_email,
    unsubscribe,
    unsubscribe_by_id,
    update_subscriber,
)
from briefmail.audience.suppression import is_suppressed, suppress
from briefmail.audience.topics import ensure_topics, list_topics, resolve_topics
from briefmail.audience.views import SubscriberOut, TopicsOut
from briefmail.db.models import Subscriber, Topic
from briefmail.errors import InvalidInputError, NotFoundError

# --- normalisation (no database) -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "email", "key"),
    [
        ("ann@example.org", "ann@example.org", "ann@example.org"),
        ("  Ann.Lee@Example.ORG \t", "Ann.Lee@example.org", "ann.lee@example.org"),
        ("o'neil+cme@sub.Example.co.uk", "o'neil+cme@sub.example.co.uk", None),
        ("carol@Bücher.de", "carol@xn--bcher-kva.de", "carol@xn--bcher-kva.de"),
        ("x@münchen.example", "x@xn--mnchen-3ya.example", None),
    ],
)
def test_normalise_trims_and_lowercases_the_domain_only(
    raw: str, email: str, key: str | None
) -> None:
    assert normalise_email(raw) == (email, key or email.lower())


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("ann.example.org", "no @"),
        ("ann@@example.org", "more than one @"),
        ("a@b@example.org", "more than one @"),
        ("@example.org", "nothing before the @"),
        ("ann@", "nothing after the @"),
        ("ann lee@example.org", "contains spaces"),
        ("ann@exa mple.org", "contains spaces"),
        ("ann@localhost", "domain has no dot"),
        ("ann@example..org", "empty part"),
        ("ann@.example.org", "empty part"),
        ("ann@example.org.", "empty part"),
        ("ann@-example.org", "not a valid name"),
        ("ann@exa_mple.org", "not a valid name"),
        ("ann@[192.168.0.1]", "IP-address"),
        ("ann@10.0.0.1", "ends in a number"),
        (".ann@example.org", "misplaced dot"),
        ("ann..lee@example.org", "misplaced dot"),
        ("ann(x)@example.org", "not allowed"),
        ('"ann"@example.org', "not allowed"),
        ("ännа@example.org", "non-ASCII"),
        ("Ann <ann@example.org>", "contains spaces"),
        ("a" * 65 + "@example.org", "over 64"),
        ("ann@" + ("a" * 60 + ".") * 5 + "org", "over 253"),
        ("ann@" + "a" * 64 + ".org", "not a valid name"),
        ("ann\x00@example.org", "control characters"),
    ],
)
def test_normalise_rejects_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidEmailError) as caught:
        normalise_email(raw)
    assert reason in caught.value.reason
    assert isinstance(caught.value, InvalidInputError)
    assert repr(raw) in str(caught.value)


# --- subscribers ---------------------------------------------------------------------


def test_add_creates_an_active_subscriber_with_a_secret(session: Session) -> None:
    result = add_subscriber(session, " Ann@Example.ORG ", name=" Ann ", topics=["Learning design"])
    session.commit()
    sub = result.subscriber
    assert result.created
    assert (sub.email, sub.email_key, sub.name, sub.status) == (
        "Ann@example.org",
        "ann@example.org",
        "Ann",
        "active",
    )
    assert [t.slug for t in sub.topics] == ["learning-design"]
    assert len(sub.secret) == 32
    assert int(sub.secret, 16) >= 0
    other = add_subscriber(session, "bob@example.org").subscriber
    assert other.secret != sub.secret
    assert other.topics == []  # no topics: every topic


def test_addresses_are_unique_case_insensitively(session: Session) -> None:
    first = add_subscriber(session, "Ann@Example.org", name="Ann")
    again = add_subscriber(session, "ANN@example.ORG", name="Ann Lee")
    session.commit()
    assert not again.created
    assert again.subscriber.id == first.subscriber.id
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 1
    assert again.subscriber.email == "Ann@example.org"  # first spelling kept
    assert again.subscriber.name == "Ann Lee"


def test_the_database_itself_refuses_a_second_email_key(session: Session) -> None:
    add_subscriber(session, "ann@example.org")
    session.commit()
    session.add(
        Subscriber(email="ANN@example.org", email_key="ann@example.org", name="", secret="x")
    )
    with pytest.raises(IntegrityError):
        session.commit()


@pytest.mark.parametrize("status", ["unsubscribed", "bounced", "complained"])
def test_adding_again_never_reactivates(session: Session, status: str) -> None:
    sub = add_subscriber(session, "ann@example.org").subscriber
    sub.status = status
    session.commit()
    again = add_subscriber(session, "ann@example.org", name="Ann", topics=["Simulation"])
    session.commit()
    assert again.subscriber.status == status
    assert [t.slug for t in again.subscriber.topics] == ["simulation"]


def test_update_and_unsubscribe(session: Session) -> None:
    add_subscriber(session, "ann@example.org", topics=["a-topic"])
    update_subscriber(session, "ANN@example.org", name="Ann", topics=[])
    session.commit()
    sub = unsubscribe(session, "ann@EXAMPLE.org")
    session.commit()
    assert (sub.name, sub.topics, sub.status) == ("Ann", [], "unsubscribed")
    bounced = add_subscriber(session, "bob@example.org").subscriber
    bounced.status = "bounced"
    session.commit()
    assert unsubscribe_by_id(session, bounced.id).status == "bounced"  # keeps the harder stop
    with pytest.raises(NotFoundError):
        unsubscribe(session, "nobody@example.org")
    with pytest.raises(NotFoundError):
        unsubscribe_by_id(session, 999_999)
    with pytest.raises(InvalidEmailError):
        unsubscribe(session, "not an address")


def test_time_zones_are_iana_names(session: Session) -> None:
    sub = add_subscriber(session, "ann@example.org", timezone=" Europe/Paris ").subscriber
    assert sub.timezone == "Europe/Paris"
    with pytest.raises(InvalidInputError, match="unknown time zone 'Mars/Olympus'"):
        add_subscriber(session, "bob@example.org", timezone="Mars/Olympus")
    with pytest.raises(InvalidInputError, match="unknown time zone"):
        update_subscriber(session, "ann@example.org", timezone="../etc/passwd")
    assert update_subscriber(session, "ann@example.org", timezone="").timezone is None


def test_bad_names_are_refused(session: Session) -> None:
    with pytest.raises(InvalidInputError, match="over 200"):
        add_subscriber(session, "ann@example.org", name="x" * 201)
    with pytest.raises(InvalidInputError, match="line break"):
        add_subscriber(session, "ann@example.org", name="Ann\nLee")


def test_iter_subscribers_pages_through_everyone(session: Session) -> None:
    for i in range(7):
        add_subscriber(session, f"r{i}@example.org", topics=["b", "a"] if i % 2 else [])
    session.commit()
    views = list(iter_subscribers(session, chunk_size=3))
    assert [v.email for v in views] == [f"r{i}@example.org" for i in range(7)]
    assert views[1].topics == ("a", "b")
    assert views[0].topics == ()
    assert SubscriberOut.of(views[1]).topics == ["a", "b"]


# --- suppression ---------------------------------------------------------------------


def test_suppression_is_by_address_and_keeps_the_first_reason(session: Session) -> None:
    first = suppress(session, "Ann@Example.org", "hard bounce")
    again = suppress(session, "ann@example.ORG", "manual")
    session.commit()
    assert first.created
    assert not again.created
    assert again.suppression.reason == "hard bounce"
    assert again.suppression.email == "Ann@example.org"
    assert is_suppressed(session, "ANN@example.org")
    assert not is_suppressed(session, "bob@example.org")
    with pytest.raises(InvalidInputError, match="reason"):
        suppress(session, "bob@example.org", "  ")


# --- topics --------------------------------------------------------------------------


def test_a_topic_is_named_by_its_name_or_its_slug(session: Session) -> None:
    created = ensure_topics(session, ["Learning design", "learning-design", "LEARNING DESIGN"])
    session.commit()
    assert [t.slug for t in created] == ["learning-design"]
    assert created[0].name == "Learning design"
    assert session.scalar(select(func.count()).select_from(Topic)) == 1
    assert [t.slug for t in resolve_topics(session, ["Learning Design"])] == ["learning-design"]


def test_a_real_name_replaces_a_bare_slug(session: Session) -> None:
    ensure_topics(session, ["patient-safety"])
    ensure_topics(session, ["Patient safety"])
    ensure_topics(session, ["PATIENT SAFETY"])  # the first real name stays
    session.commit()
    assert session.get(Topic, "patient-safety").name == "Patient safety"  # type: ignore[union-attr]


def test_topic_names_must_make_a_slug(session: Session) -> None:
    with pytest.raises(InvalidInputError, match="no letters or digits"):
        ensure_topics(session, ["!!!"])
    with pytest.raises(InvalidInputError, match="too long"):
        ensure_topics(session, ["word " * 20])


def test_resolve_refuses_unknown_topics_and_lists_known_ones(session: Session) -> None:
    ensure_topics(session, ["Simulation"])
    with pytest.raises(
        InvalidInputError, match=r"unknown topic 'Nope' \(known topics: simulation\)"
    ):
        resolve_topics(session, ["simulation", "Nope"])


def test_topic_counts_are_reachable_subscribers(session: Session) -> None:
    add_subscriber(session, "a@example.org", topics=["Alpha"])
    add_subscriber(session, "b@example.org", topics=["Alpha", "Beta"])
    add_subscriber(session, "c@example.org", topics=["Beta"], status="pending")
    add_subscriber(session, "d@example.org", topics=["Beta"])
    add_subscriber(session, "e@example.org")
    add_subscriber(session, "f@example.org")
    add_subscriber(session, "g@example.org", status="unsubscribed")
    suppress(session, "D@example.org", "bounce")
    suppress(session, "f@example.org", "manual")
    ensure_topics(session, ["Gamma"])
    session.commit()
    listing = list_topics(session)
    assert [(t.slug, t.name, t.subscribers) for t in listing.topics] == [
        ("alpha", "Alpha", 2),
        ("beta", "Beta", 1),
        ("gamma", "Gamma", 0),
    ]
    assert listing.all_topics == 1
    assert TopicsOut.of(listing).all_topics == 1
