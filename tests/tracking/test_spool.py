"""The click spool: what a stop could not store, kept on disk and taken back whole."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from briefmail.tracking.clicks import RawClick
from briefmail.tracking.recorder import ClickRecorder
from briefmail.tracking.spool import ClickSpool


def click(n: int) -> RawClick:
    return RawClick(f"k{n}", 7, 1 + n % 3, n or None, 1.7e9 + n, "GET", None, "UA é", "")


class Failing:
    async def write(self, clicks: Sequence[RawClick]) -> None:
        raise ConnectionError("database down")


class Keeping:
    def __init__(self) -> None:
        self.stored: list[RawClick] = []

    async def write(self, clicks: Sequence[RawClick]) -> None:
        self.stored.extend(clicks)


def test_saved_clicks_come_back_in_order_and_the_file_goes(tmp_path: Path) -> None:
    spool = ClickSpool(tmp_path / "spool")
    assert spool.take() == []  # no folder yet
    first = spool.save([click(n) for n in range(3)])
    spool.save([click(n) for n in range(3, 5)])
    assert first.name.startswith("clicks-")
    assert not list((tmp_path / "spool").glob(".*partial"))
    assert spool.take() == [click(n) for n in range(5)]
    assert list((tmp_path / "spool").iterdir()) == []
    assert spool.take() == []


def test_a_bad_line_is_named_and_skipped(tmp_path: Path, caplog) -> None:
    spool = ClickSpool(tmp_path)
    path = spool.save([click(1), click(2)])
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join([lines[0], b"{not json", b"[1, 2]", lines[1]]) + b"\n")
    with caplog.at_level(logging.WARNING):
        assert spool.take() == [click(1), click(2)]
    assert f"{path} line 2 skipped" in caplog.text
    assert f"{path} line 3 skipped" in caplog.text


def test_a_stop_with_the_store_down_spools_and_the_next_start_stores(tmp_path: Path) -> None:
    spool = ClickSpool(tmp_path)

    async def first_life() -> ClickRecorder:
        recorder = ClickRecorder(Failing(), spool=spool, flush_interval=0.01)
        await recorder.start()
        for n in range(10):
            recorder.record(click(n))
        await recorder.stop(timeout=0.3)
        return recorder

    recorder = asyncio.run(first_life())
    assert recorder.buffered == 0
    assert len(list(tmp_path.glob("clicks-*.jsonl"))) == 1

    keeping = Keeping()

    async def second_life() -> None:
        recorder = ClickRecorder(keeping, spool=spool, flush_interval=0.01)
        await recorder.start()
        recorder.record(click(10))  # a new click lands after the spooled ones
        await recorder.stop(timeout=5)

    asyncio.run(second_life())
    assert keeping.stored == [click(n) for n in range(11)]
    assert list(tmp_path.iterdir()) == []


def test_without_room_on_disk_the_clicks_stay_counted(tmp_path: Path, caplog) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    recorder = ClickRecorder(Failing(), spool=ClickSpool(blocker), flush_interval=0.01)

    async def life() -> None:
        await recorder.start()
        recorder.record(click(1))
        await recorder.stop(timeout=0.1)

    with pytest.raises(FileExistsError):
        ClickSpool(blocker).save([click(1)])
    with caplog.at_level(logging.ERROR):
        asyncio.run(life())
    assert "1 clicks neither stored nor spooled" in caplog.text
    assert recorder.buffered == 1


def test_more_spooled_clicks_than_the_buffer_holds_are_counted_as_dropped(
    tmp_path: Path,
) -> None:
    spool = ClickSpool(tmp_path)
    spool.save([click(n) for n in range(5)])
    spool.save([click(n) for n in range(5, 8)])
    keeping = Keeping()
    recorder = ClickRecorder(keeping, spool=spool, max_buffered=6, flush_interval=0.01)

    async def life() -> None:
        await recorder.start()
        await recorder.stop(timeout=5)

    asyncio.run(life())
    assert keeping.stored == [click(n) for n in range(6)]  # the oldest kept
    assert recorder.dropped == 2
