"""A local stand-in for SendGrid's v3 Mail Send API, the only faked thing in the tests.

It checks a request the way SendGrid documents it (a JSON Content-Type, limits,
reserved headers, types),
answers 202 with an `X-Message-Id`, and records every accepted personalization, so a
test can assert that each recipient got exactly one message. Faults are planned per
request: `plan(429, retry_after=1)`, `plan(500)`, `plan(400)`, `plan(202, delay=3)`;
`plan(202, hold=True)` and `hold()` keep answers back until `release()`. A request
is recorded as accepted as soon as it is valid, as SendGrid accepts what it fully
received even if the client then vanishes. `failure_rates={429: 0.2, 500: 0.1}`
answers that share of unplanned requests so (a seeded draw per request).

With `webhook=Webhook(url, private_key)` it also plays SendGrid's signed Event
Webhook: the events of every accepted request are posted to `url` in batches, signed
as SendGrid signs them, and posted again later while the webhook does not answer 200.

In-thread: `with FakeSendGrid() as fake: fake.url ...`. As a subprocess:
`python -m tests.fakes.sendgrid_server --port 0` prints `listening on URL` and
offers the same controls over HTTP (`RemoteFakeSendGrid(url)`).
With `--certfile CERT --keyfile KEY` it serves HTTPS, as SendGrid does.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import random
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

API_KEY = "SG.test-key"
MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_SUBSTITUTIONS = 100
MAX_PERSONALIZATION_BYTES = 10_000
RESERVED_HEADERS = {
    "x-sg-id",
    "x-sg-eid",
    "received",
    "dkim-signature",
    "content-type",
    "content-transfer-encoding",
    "to",
    "from",
    "subject",
    "reply-to",
    "cc",
    "bcc",
}


@dataclass
class Fault:
    status: int = 202
    retry_after: float | None = None
    delay: float = 0.0
    body: str = ""
    batch_id: str | None = None  # only for requests of this batch (custom_args)
    hold: bool = False  # record it, then keep the answer back until release()


@dataclass
class Webhook:
    """Where the fake posts events, and the key it signs them with."""

    url: str
    key: ec.EllipticCurvePrivateKey
    events: tuple[str, ...] = ("processed", "delivered")
    every: float = 0.2  # seconds between posts


# SendGrid's Event Webhook posts a batch when it reaches 768 KB or every 30 seconds.
EVENT_BATCH_BYTES = 768 * 1024


def _take_batch(unposted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Remove and return the oldest events that fit in one post."""
    size, count = 2, 0  # the brackets
    for event in unposted:
        size += len(json.dumps(event)) + 1
        if count and size > EVENT_BATCH_BYTES:
            break
        count += 1
    batch = unposted[:count]
    del unposted[:count]
    return batch


def signed_headers(key: ec.EllipticCurvePrivateKey, body: bytes) -> dict[str, str]:
    """The headers of a signed Event Webhook post, as SendGrid sends them."""
    timestamp = str(int(time.time()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }


class BadRequest(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _email_ok(value: Any) -> bool:
    if not isinstance(value, str) or value.count("@") != 1 or " " in value:
        return False
    local, domain = value.split("@")
    return bool(local) and "." in domain


def validate(body: Any) -> list[dict[str, Any]]:
    """The personalizations of a valid Mail Send body, or BadRequest like SendGrid's 400."""
    if not isinstance(body, dict):
        raise BadRequest("", "Invalid type. Expected: object")
    ps = body.get("personalizations")
    if not isinstance(ps, list) or not ps:
        raise BadRequest("personalizations", "You must have at least one personalization.")
    if len(ps) > MAX_PERSONALIZATIONS:
        raise BadRequest(
            "personalizations",
            f"The personalization block is limited to {MAX_PERSONALIZATIONS} personalizations "
            f"per API request. You have provided {len(ps)} personalizations.",
        )
    seen: set[str] = set()
    total = 0
    for i, p in enumerate(ps):
        where = f"personalizations.{i}"
        if not isinstance(p, dict):
            raise BadRequest(where, "Invalid type. Expected: object")
        for kind in ("to", "cc", "bcc"):
            people = p.get(kind, [] if kind != "to" else None)
            if kind == "to" and (not isinstance(people, list) or not people):
                raise BadRequest(
                    f"{where}.to", "The to parameter is required for all personalization objects."
                )
            for person in people or []:
                if not isinstance(person, dict) or not _email_ok(person.get("email")):
                    raise BadRequest(f"{where}.{kind}", "Each email address must be valid.")
                if "name" in person and not isinstance(person["name"], str):
                    raise BadRequest(f"{where}.{kind}", "name must be a string")
                key = person["email"].lower()
                if key in seen:
                    raise BadRequest(
                        "personalizations",
                        "Each unique email address in the personalizations array should only "
                        f"be included once. You have included {person['email']} more than once.",
                    )
                seen.add(key)
                total += 1
        size = 0
        for name in ("substitutions", "custom_args", "headers"):
            mapping = p.get(name, {})
            if not isinstance(mapping, dict):
                raise BadRequest(f"{where}.{name}", "Invalid type. Expected: object")
            for k, v in mapping.items():
                if not isinstance(v, str):
                    raise BadRequest(f"{where}.{name}", f"{name} values must be strings")
                if name != "headers":
                    size += len(k.encode()) + len(v.encode())
        if len(p.get("substitutions", {})) > MAX_SUBSTITUTIONS:
            raise BadRequest(
                f"{where}.substitutions", "You may not include more than 100 substitutions."
            )
        if size > MAX_PERSONALIZATION_BYTES:
            raise BadRequest(
                f"{where}.substitutions",
                "The total size of substitutions and custom_args may not exceed 10,000 bytes "
                "per personalization object.",
            )
        for header in p.get("headers", {}):
            if header.lower() in RESERVED_HEADERS:
                raise BadRequest(f"{where}.headers", f"{header} is a reserved header.")
    if total > MAX_RECIPIENTS:
        raise BadRequest(
            "personalizations",
            "There is a limit of 1000 total recipients (to + cc + bcc) per request.",
        )
    sender = body.get("from")
    if not isinstance(sender, dict) or not _email_ok(sender.get("email")):
        raise BadRequest("from.email", "The from object must be provided for every email send.")
    if not isinstance(body.get("subject"), str) and not all("subject" in p for p in ps):
        raise BadRequest("subject", "The subject is required.")
    content = body.get("content")
    if not isinstance(content, list) or not content:
        raise BadRequest(
            "content", "Unless a valid template_id is provided, the content parameter is required."
        )
    types = [c.get("type") for c in content if isinstance(c, dict)]
    if len(types) != len(content) or any(
        not isinstance(c.get("value"), str) or not c["value"] for c in content
    ):
        raise BadRequest("content", "Each content object must have a type and a non-empty value.")
    if "text/plain" in types and types[0] != "text/plain":
        raise BadRequest("content", "If present, text/plain content must be first.")
    return ps


class FakeSendGrid:
    """The server and its record. Use as a context manager (runs in a thread)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        keep: str = "full",
        tls: ssl.SSLContext | None = None,
        webhook: Webhook | None = None,
        failure_rates: Mapping[int, float] | None = None,
        seed: int = 12,
    ) -> None:
        self.keep = keep  # "full": whole personalizations; "ids": custom_args and email only
        self.webhook = webhook
        self.failure_rates = dict(failure_rates or {})
        self._rng = random.Random(seed)
        self._unposted: list[dict[str, Any]] = []  # events not yet taken by the webhook
        self._posting = threading.Event()
        self.posted = 0  # events the webhook answered 200 for
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._released = threading.Event()  # hold(): every answer waits
        self._released.set()
        self._gate = threading.Event()  # plan(hold=True): that answer waits
        self._gate.set()
        self.accepted: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []  # one per request: status, count, message id
        self.received = threading.Condition(self._lock)
        self.bodies: list[dict[str, Any]] = []  # message-level fields of accepted requests
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:  # HTTPS, as SendGrid is served; the handshake runs in the handler
            self.scheme = "https"
            self._server.socket = tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    # -- control -------------------------------------------------------------------

    def plan(
        self,
        status: int = 202,
        *,
        retry_after: float | None = None,
        delay: float = 0.0,
        times: int = 1,
        body: str = "",
        batch_id: str | int | None = None,
        hold: bool = False,
    ) -> None:
        batch = None if batch_id is None else str(batch_id)
        if hold:
            self._gate.clear()
        with self._lock:
            for _ in range(times):
                self._faults.append(Fault(status, retry_after, delay, body, batch, hold))

    def hold(self) -> None:
        """Keep every answer back (requests are still checked and recorded) until release()."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()
        self._gate.set()

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self.accepted.clear()
            self.requests.clear()
            self.bodies.clear()
        self.release()

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.received:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.received.wait(left)
        return True

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "accepted": list(self.accepted),
                "requests": list(self.requests),
                "bodies": list(self.bodies),
            }

    def events(self, event: str = "processed") -> list[dict[str, Any]]:
        """SendGrid Event Webhook entries for everything accepted (custom_args on top)."""
        with self._lock:
            return [_event(p, event) for p in self.accepted]

    # -- serving ---------------------------------------------------------------------

    def start(self) -> FakeSendGrid:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-sendgrid", daemon=True
        )
        self._thread.start()
        if self.webhook is not None:
            self._posting.set()
            threading.Thread(target=self._post_events, name="fake-webhook", daemon=True).start()
        return self

    def stop(self) -> None:
        self._posting.clear()
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def _post_events(self) -> None:
        """Post what was accepted to the webhook, a batch at a time, until stopped: as
        SendGrid does, a batch of at most `EVENT_BATCH_BYTES` of JSON."""
        assert self.webhook is not None
        while self._posting.is_set():
            time.sleep(self.webhook.every)
            with self._lock:
                batch = _take_batch(self._unposted)
            if not batch:
                continue
            body = json.dumps(batch).encode()
            request = urllib.request.Request(
                self.webhook.url,
                data=body,
                headers=signed_headers(self.webhook.key, body),
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    ok = response.status == 200
            except (OSError, urllib.error.URLError):
                ok = False
            with self._lock:
                if ok:
                    self.posted += len(batch)
                else:  # SendGrid retries a batch the webhook did not take
                    self._unposted[:0] = batch

    def __enter__(self) -> FakeSendGrid:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_fault(self, body: Any) -> Fault:
        try:
            batch = str(body["personalizations"][0]["custom_args"]["batch_id"])
        except (KeyError, IndexError, TypeError):
            batch = None
        with self._lock:
            for fault in self._faults:
                if fault.batch_id is None or fault.batch_id == batch:
                    self._faults.remove(fault)
                    return fault
            draw = self._rng.random()
        for status, rate in self.failure_rates.items():
            if draw < rate:
                return Fault(status)
            draw -= rate
        return Fault()

    def _record(self, body: dict[str, Any], ps: list[dict[str, Any]], message_id: str) -> None:
        with self._lock:
            for p in ps:
                entry = {
                    "email": p["to"][0]["email"],
                    "custom_args": p.get("custom_args", {}),
                    "message_id": message_id,
                }
                if self.keep == "full":
                    entry.update(
                        name=p["to"][0].get("name", ""),
                        substitutions=p.get("substitutions", {}),
                        headers=p.get("headers", {}),
                    )
                self.accepted.append(entry)
                if self.webhook is not None:
                    self._unposted.extend(_event(entry, name) for name in self.webhook.events)
            if self.keep == "full":
                self.bodies.append({k: v for k, v in body.items() if k != "personalizations"})

    def _note(self, status: int, count: int, message_id: str | None) -> None:
        with self.received:
            self.requests.append(
                {"status": status, "personalizations": count, "message_id": message_id}
            )
            self.received.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(
                self, status: int, payload: Any = None, headers: dict[str, str] | None = None
            ) -> None:
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:
                if self.path == "/_fake/record":
                    self._reply(200, fake.snapshot())
                elif self.path == "/_fake/events":
                    self._reply(200, fake.events())
                else:
                    self._reply(404, {"errors": [{"message": "not found"}]})

            def do_POST(self) -> None:
                raw = self._body()
                if self.path.startswith("/_fake/"):
                    self._control(self.path.removeprefix("/_fake/"), raw)
                    return
                if self.path != "/v3/mail/send":
                    self._reply(404, {"errors": [{"message": "not found"}]})
                    return
                if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                    fake._note(401, 0, None)
                    self._reply(
                        401,
                        {"errors": [{"message": "The provided authorization grant is invalid"}]},
                    )
                    return
                media_type = (self.headers.get("Content-Type") or "").split(";")[0]
                if media_type.strip().lower() != "application/json":
                    fake._note(415, 0, None)
                    self._reply(
                        415, {"errors": [{"message": "Content-Type should be application/json."}]}
                    )
                    return
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    fake._note(400, 0, None)
                    self._reply(400, {"errors": [{"message": "Bad Request", "field": None}]})
                    return
                fault = fake._next_fault(body)
                if fault.status != 202:
                    headers = (
                        {"Retry-After": f"{fault.retry_after:g}"}
                        if fault.retry_after is not None
                        else {}
                    )
                    fake._note(fault.status, 0, None)
                    time.sleep(fault.delay)
                    message = fault.body or f"injected {fault.status}"
                    self._reply(fault.status, {"errors": [{"message": message}]}, headers)
                    return
                try:
                    ps = validate(body)
                except BadRequest as exc:
                    fake._note(400, 0, None)
                    self._reply(400, {"errors": [{"message": exc.message, "field": exc.field}]})
                    return
                message_id = uuid.uuid4().hex[:22]
                fake._record(body, ps, message_id)
                fake._note(202, len(ps), message_id)
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.hold:
                    fake._gate.wait()
                fake._released.wait()
                # If the client is gone, the mail is accepted all the same.
                with contextlib.suppress(OSError):
                    self._reply(202, None, {"X-Message-Id": message_id})

            def _control(self, action: str, raw: bytes) -> None:
                args = json.loads(raw or b"{}")
                if action == "plan":
                    fake.plan(**args)
                elif action == "hold":
                    fake.hold()
                elif action == "release":
                    fake.release()
                elif action == "reset":
                    fake.reset()
                else:
                    self._reply(404, {"error": action})
                    return
                self._reply(200, {"ok": True})

        return Handler


class RemoteFakeSendGrid:
    """The controls of a fake running in another process."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _post(self, action: str, **args: Any) -> None:
        request = urllib.request.Request(
            f"{self.url}/_fake/{action}", data=json.dumps(args).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def plan(self, status: int = 202, **args: Any) -> None:
        self._post("plan", status=status, **args)

    def hold(self) -> None:
        self._post("hold")

    def release(self) -> None:
        self._post("release")

    def reset(self) -> None:
        self._post("reset")

    def snapshot(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_fake/record", timeout=30) as response:
            return json.loads(response.read())

    @property
    def accepted(self) -> list[dict[str, Any]]:
        return self.snapshot()["accepted"]

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.snapshot()["requests"]


def _event(accepted: dict[str, Any], event: str) -> dict[str, Any]:
    """One Event Webhook entry for an accepted personalization (custom_args on top)."""
    return {
        "email": accepted["email"],
        "event": event,
        "timestamp": int(time.time()),
        "sg_event_id": uuid.uuid4().hex,
        "sg_message_id": accepted["message_id"] + ".filter0001",
        **accepted["custom_args"],
    }


def exactly_once(accepted: list[dict[str, Any]]) -> dict[str, int]:
    """Email -> number of accepted messages (a test asserts every value is 1)."""
    counts: dict[str, int] = {}
    for p in accepted:
        counts[p["email"]] = counts.get(p["email"], 0) + 1
    return counts


def iter_accepted_ids(accepted: list[dict[str, Any]]) -> Iterator[int]:
    for p in accepted:
        yield int(p["custom_args"]["delivery_id"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--keep", choices=["full", "ids"], default="full")
    parser.add_argument("--certfile", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--keyfile", help="the certificate's private key (PEM)")
    args = parser.parse_args(argv)
    tls = None
    if args.certfile:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.certfile, args.keyfile)
    fake = FakeSendGrid(host=args.host, port=args.port, keep=args.keep, tls=tls)
    print(f"listening on {fake.url}", flush=True)
    try:
        fake._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake._server.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
