"""What one spelling per token costs the click redirect's `tokens.verify`.

`verify` refuses every spelling of a token but the canonical one (issue 13). The
baseline, in the same run, is the very same `verify` with the lenient decoding it
replaced (binascii's non-strict base64, which skips characters outside the alphabet
and ignores padding and stray bits) swapped in. Fixed seed, 20,000 distinct click
tokens, the two timed in alternation, best of N passes each.

    .venv/bin/python bench/tokens.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import binascii
import random
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
        started = time.perf_counter()
        for token in batch:
            tokens.verify(KEYS, token, Purpose.CLICK, arity=3)
        return (time.perf_counter() - started) / len(batch) * 1e6
    finally:
        tokens._unb64 = CANONICAL


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(13)
    batch = [
        tokens.click_token(
            KEYS, rng.randrange(1, 10_000), rng.randrange(60), rng.randrange(1 << 24)
        )
        for _ in range(20_000)
    ]
    canonical, lenient = [], []
    for _ in range(args.repeat):
        canonical.append(timed(CANONICAL, batch))
        lenient.append(timed(lenient_unb64, batch))
    now, before = min(canonical), min(lenient)
    print(f"{'tokens.verify, per click token':<44} {'µs':>6}")
    print(f"{'one spelling only (now)':<44} {now:>6.2f}")
    print(f"{'lenient decoding (before, same run)':<44} {before:>6.2f}")
    print(f"{'cost of the canonical check':<44} {now - before:>+6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
