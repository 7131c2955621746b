"""Atomic writes give their files the mode a plain open() would, not mkstemp's private 0600."""

import os

from cnnlab._io import atomic_write, atomic_write_text


def test_atomic_writes_follow_the_umask(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    atomic_write_text(tmp_path / "a.json", "{}")
    atomic_write(tmp_path / "b.bin", lambda f: f.write(b"x"), durable=False)
    plain = tmp_path / "c.txt"
    plain.write_text("x")
    expected = plain.stat().st_mode & 0o777
    assert expected == 0o666 & ~umask
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == expected
    assert (tmp_path / "b.bin").stat().st_mode & 0o777 == expected
