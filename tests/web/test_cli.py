"""`briefmail web` refuses what it cannot do right."""

from __future__ import annotations

import subprocess
import sys


def test_several_workers_need_the_redis_stream() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "briefmail", "web", "--workers", "2", "--port", "1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--workers > 1 needs BRIEFMAIL_REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr
