"""checkpoint.open() on a large file: the bytes come back intact, through a real file, and the
core's memory does not grow with the file's size."""

from __future__ import annotations

import hashlib
import os

from helpers import ProjectTestCase, make_project

import cairn
from cairn._core import get_core

SIZE_MB = 128


def peak_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc")


class LargeFileTest(ProjectTestCase):
    def test_open_streams_a_large_file_through_disk(self) -> None:
        directory = make_project({"train.py": "pass\n"})
        experiment = cairn.Project(directory=directory).init(path=".", params={})
        expected = hashlib.sha256()
        block = os.urandom(1 << 20)
        with open(directory / "weights.bin", "wb") as handle:
            for index in range(SIZE_MB):
                chunk = block[index:] + block[:index]
                expected.update(chunk)
                handle.write(chunk)
        experiment.checkpoint(path="weights.bin", metrics={"loss": 1.0})
        experiment.stop()
        pid = get_core().process.pid
        before = peak_rss_kb(pid)

        with experiment.latest().open("weights.bin") as handle:
            self.assertEqual(os.fstat(handle.fileno()).st_size, SIZE_MB << 20)
            actual = hashlib.sha256()
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                actual.update(chunk)
            handle.seek(-5, os.SEEK_END)
            self.assertEqual(handle.read(), expected_tail(block, SIZE_MB))
        self.assertEqual(actual.hexdigest(), expected.hexdigest())
        grown_mb = (peak_rss_kb(pid) - before) / 1024
        self.assertLess(grown_mb, SIZE_MB / 2, f"the core's peak memory grew by {grown_mb:.0f} MB for a {SIZE_MB} MB file")


def expected_tail(block: bytes, count: int) -> bytes:
    index = count - 1
    return (block[index:] + block[:index])[-5:]
