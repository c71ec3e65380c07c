"""What one spelling per token costs the click redirect's `tokens.verify`.

`verify` refuses every spelling of a token but the canonical one (issue 13). The
baseline, in the same run, is the very same `verify` with the lenient decoding it
replaced (binascii's non-strict base64, which skips characters outside the alphabet
and ignores padding and stray bits) swapped in. Fixed seed, 5,000 distinct click
tokens; the two are timed in alternation (CPU time of this process), N rounds, and
the medians are printed with the median of the per-round differences, which other
processes' load disturbs least.

Also the MAC alone, as `tokens` computes it (an HMAC keyed once and copied per
token) beside keying a fresh HMAC per token, in the same run.

    .venv/bin/python bench/tokens.py [--rounds 41]
"""

from __future__ import annotations

import argparse
import binascii
import hashlib
import hmac
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from briefmail.tracking import tokens  # noqa: E402
from briefmail.tracking.tokens import Purpose  # noqa: E402

KEYS = [b"bench-secret-key-0123456789abcdef-0123"]
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
CANONICAL = tokens._unb64


def lenient_unb64(text: str) -> bytes:
    """The decoder `verify` used before: any spelling that decodes to the bytes."""
    data = text.encode("ascii").translate(_FROM_URLSAFE)
    return binascii.a2b_base64(data + b"=" * (-len(data) % 4))


def timed(decoder: Callable[[str], bytes], batch: list[str]) -> float:
    tokens._unb64 = decoder
    try:
        started = time.process_time()
        for token in batch:
            tokens.verify(KEYS, token, Purpose.CLICK, arity=3)
        return (time.process_time() - started) / len(batch) * 1e6
    finally:
        tokens._unb64 = CANONICAL


def mac_cost(batch: list[bytes], *, prekeyed: bool) -> float:
    """CPU µs per MAC of `batch`, keyed once and copied, or keyed afresh each time."""
    key = KEYS[0]
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    started = time.process_time()
    if prekeyed:
        for message in batch:
            mac = keyed.copy()
            mac.update(message)
            mac.digest()
    else:
        for message in batch:
            hmac.new(key, message, hashlib.sha256).digest()
    return (time.process_time() - started) / len(batch) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=41)
    args = parser.parse_args()
    rng = random.Random(13)
    batch = [
        tokens.click_token(
            KEYS, rng.randrange(1, 10_000), rng.randrange(60), rng.randrange(1 << 24)
        )
        for _ in range(5_000)
    ]
    canonical, lenient = [], []
    for _ in range(args.rounds):
        canonical.append(timed(CANONICAL, batch))
        lenient.append(timed(lenient_unb64, batch))
    differences = [now - before for now, before in zip(canonical, lenient, strict=True)]
    print(f"tokens.verify, CPU µs per click token, median of {args.rounds} rounds")
    print(f"{'one spelling only (now)':<44} {statistics.median(canonical):>6.2f}")
    print(f"{'lenient decoding (before, same run)':<44} {statistics.median(lenient):>6.2f}")
    print(f"{'cost of the canonical check':<44} {statistics.median(differences):>+6.2f}")
    messages = [token.encode() for token in batch]
    prekeyed = [mac_cost(messages, prekeyed=True) for _ in range(args.rounds)]
    fresh = [mac_cost(messages, prekeyed=False) for _ in range(args.rounds)]
    print(f"HMAC-SHA256 of one token, CPU µs, median of {args.rounds} rounds")
    print(f"{'keyed once, copied per token (tokens)':<44} {statistics.median(prekeyed):>6.2f}")
    print(f"{'keyed afresh per token (baseline)':<44} {statistics.median(fresh):>6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
