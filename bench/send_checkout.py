"""The steps of bench/send.py that must run on the code being measured.

    PYTHON -P bench/send_checkout.py prepare URL BRIEF TOPIC...
    PYTHON -P bench/send_checkout.py create URL SLUG

bench/send.py runs this with the interpreter, working directory and PYTHONPATH of
the checkout it measures (this one, or the `--before DIR` one), so `briefmail` and
`worker` are that checkout's: its migrations, its engine, its Celery tasks. `-P`
keeps this folder off sys.path. Only functions that both checkouts have, with the
same signatures, are called here.

`prepare`: the checkout's migrations on the empty database at URL, then the brief
imported and approved and the topics created; prints the brief's slug. The
subscribers are inserted by bench/send.py, the same rows into every schema.

`create`: imports everything, prints `ready` and waits for a line on stdin; then does
what `briefmail send SLUG --now` does (commit the send, queue one `work` task) and
prints the send's id. bench/send.py starts its clock when it writes that line, so
neither the process start nor the imports are timed, for any checkout.
"""

from __future__ import annotations

import sys


def prepare(url: str, brief: str, topics: list[str]) -> None:
    from briefmail.audience.topics import ensure_topics
    from briefmail.briefs.store import approve_brief, import_brief
    from briefmail.db.session import dispose_engines, session_scope, upgrade

    upgrade(url)
    with session_scope(url) as session:
        slug = import_brief(session, brief).slug
        approve_brief(session, slug, "bench")
        ensure_topics(session, topics)
    dispose_engines()
    print(slug, flush=True)


def create(url: str, slug: str) -> None:
    from worker.tasks import enqueue_work

    from briefmail import clock
    from briefmail.db.session import session_scope
    from briefmail.sending import service

    print("ready", flush=True)
    if not sys.stdin.readline():
        raise SystemExit("send_checkout: stdin closed before the go")
    with session_scope(url) as session:
        send_id = service.create_send(session, slug, at=clock.now(), now=clock.now()).id
    enqueue_work()
    print(send_id, flush=True)


def main() -> None:
    step, url, *rest = sys.argv[1:]
    if step == "prepare":
        prepare(url, rest[0], rest[1:])
    elif step == "create":
        create(url, rest[0])
    else:
        raise SystemExit(f"send_checkout: step must be prepare or create, not {step!r}")


if __name__ == "__main__":
    main()
