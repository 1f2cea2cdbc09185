"""The bounded reader: only regular files, the size checked before reading, inflation and numbers bounded."""

import gzip
import os
import threading

import pytest

from envcapture.errors import BadInput
from envcapture.manifest import reader


def refused(call, *args, **kwargs) -> str:
    with pytest.raises(BadInput) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message.replace(str(args[0]) if args and isinstance(args[0], str) else "", "")
    return message


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    result = {}

    def read():
        try:
            reader.read_bytes(fifo)
        except BadInput as exc:
            result["message"] = str(exc)
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(5)
    if thread.is_alive():  # unblock the reader so the test process can end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading a FIFO blocked")
    assert "FIFO" in result["message"]


@pytest.mark.parametrize("path, kind", [("/dev/zero", "character device"), ("/dev/null", "character device")])
def test_a_device_is_refused(path, kind):
    assert kind in refused(reader.read_bytes, path)


def test_a_directory_and_a_dangling_link_are_refused(tmp_path):
    assert "directory" in refused(reader.read_bytes, tmp_path)
    link = tmp_path / "gone.json"
    link.symlink_to(tmp_path / "missing.json")
    assert "dangling symbolic link" in refused(reader.read_bytes, link)
    assert "no such file" in refused(reader.read_bytes, tmp_path / "missing.json")


def test_a_link_is_followed_only_when_asked(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert reader.read_bytes(link) == b"{}"
    assert "symbolic link" in refused(reader.read_bytes, link, follow=False)
    assert reader.read_bytes(target, follow=False) == b"{}"


def test_a_refused_link_is_named_with_what_was_expected(tmp_path):
    """The one line says what the file had to be, whether the link is seen before the open or by the open
    itself (O_NOFOLLOW, a file swapped for a link in between). Found by bench/mutation.py: the pre-open check
    refusing links itself with another message (``and not follow`` -> ``and follow``) survived."""
    (tmp_path / "real.gz").write_bytes(b"x")
    link = tmp_path / "m.d.sidecar.gz"
    link.symlink_to(tmp_path / "real.gz")
    message = refused(reader.open_regular, link, "data sidecar", follow=False)
    assert message == f"{link}: is a symbolic link; a data sidecar must be a regular file"


def test_the_size_is_checked_before_reading(tmp_path, monkeypatch):
    big = tmp_path / "big.json"
    with open(big, "wb") as handle:
        handle.truncate(2 * 1024 ** 3)  # sparse: 2 GB that costs nothing on disk
    monkeypatch.setattr(os, "read", lambda *a: pytest.fail("read before the size check"))
    assert "2147483648 bytes is too large" in refused(reader.read_bytes, big)


def test_at_most_the_limit_is_read(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert reader.read_bytes(path, limit=100) == b"x" * 100
    message = refused(reader.read_bytes, path, limit=99)
    assert message == f"{path}: 100 bytes is too large for a manifest (the limit is 99 bytes)"  # the real size


def test_a_file_that_grows_while_read_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 200)
    fd = reader.open_regular(path)
    real_fstat = os.fstat
    monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result((*real_fstat(fd)[:6], 100, *real_fstat(fd)[7:])))
    try:
        with pytest.raises(BadInput, match="grew while being read"):
            reader.read_fd(fd, 150, str(path))
    finally:
        os.close(fd)


def test_an_unreadable_file_is_one_line(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads a mode 000 file; tests/cli/test_odd_inputs.py runs this as an unprivileged user")
    path = tmp_path / "secret.json"
    path.write_text("{}")
    path.chmod(0)
    assert "permission denied" in refused(reader.read_bytes, path)


def test_gzip_is_inflated_with_a_bound():
    bomb = gzip.compress(b"\0" * (16 * 1024 * 1024))
    assert len(bomb) < 100_000
    assert "inflates to more than" in refused(reader.gunzip, bomb, 1024 * 1024, "bomb.gz")
    assert reader.gunzip(gzip.compress(b"abc") + gzip.compress(b"def"), 6, "two.gz") == b"abcdef"
    assert "inflates" in refused(reader.gunzip, gzip.compress(b"abc") + gzip.compress(b"def"), 5, "two.gz")
    assert "truncated" in refused(reader.gunzip, gzip.compress(b"abc" * 1000)[:-12], 10_000, "cut.gz")
    assert "not valid gzip" in refused(reader.gunzip, b"not gzip at all", 10_000, "plain.gz")


def test_zlib_is_inflated_with_a_bound():
    import zlib

    bomb = zlib.compress(b"\0" * (16 * 1024 * 1024))
    assert "inflates to more than" in refused(reader.inflate, bomb, 1024 * 1024, "frame")
    assert reader.inflate(zlib.compress(b"abc"), 3, "frame") == b"abc"
    assert "after the end" in refused(reader.inflate, zlib.compress(b"abc") + b"x", 10, "frame")
    assert "truncated" in refused(reader.inflate, zlib.compress(b"abc" * 1000)[:-6], 10_000, "frame")


@pytest.mark.parametrize("text, words", [
    ('{"n": ' + "9" * 5000 + "}", "5000 digits"),
    ('{"n": -' + "9" * 21 + "}", "21 digits"),
    ('{"n": 1e309}', "out of range"),
    ('{"n": -1e309}', "out of range"),
    ('{"n": NaN}', "NaN is not a JSON number"),
    ('{"n": Infinity}', "Infinity is not a JSON number"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"n": 1', "truncated"),
])
def test_numbers_and_nesting_are_bounded(text, words):
    assert words in refused(reader.loads, text, "m.json")


def test_ordinary_numbers_read_as_before():
    assert reader.loads('{"a": 18446744073709551615, "b": -1, "c": 1.5e300, "d": 0.25}', "m") == {
        "a": 2 ** 64 - 1, "b": -1, "c": 1.5e300, "d": 0.25}


def test_invalid_utf8_is_one_line(tmp_path):
    path = tmp_path / "latin.json"
    path.write_bytes(b'{"a": "caf\xe9"}')
    assert "not UTF-8 text at byte 10" in refused(reader.read_json, path)


def test_long_digit_runs_in_strings_are_text_not_numbers():
    digits = "1" * 30
    assert reader.loads(f'{{"name": "{digits}", "n": 5}}', "m") == {"name": digits, "n": 5}
    assert "25 digits" in refused(reader.loads, f'{{"name": "{digits}", "n": {"9" * 25}}}', "m")
    assert "21 digits" in refused(reader.loads, '{"n": ' + "1" * 21 + "}", "m")
    assert reader.loads('{"n": ' + "1" * 20 + "}", "m") == {"n": int("1" * 20)}
