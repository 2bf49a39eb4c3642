"""Downloads against a local HTTP server: verification, resume, and every failure mode."""

from __future__ import annotations

import hashlib

import pytest

from brainattr import download
from brainattr.download import DownloadError, RemoteFile, fetch, read_manifest

from .http_server import FileServer

HDF5 = b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 400  # ~100 kB with a valid signature
ETAG = '"' + hashlib.md5(HDF5).hexdigest() + '"'  # as the test server sends it


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    (root / "a.hdf").write_bytes(HDF5)
    with FileServer(root) as srv:
        yield srv


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(download.time, "sleep", lambda s: None)


def remote(server, path="a.hdf", **kw) -> RemoteFile:
    return RemoteFile(path, f"{server.url}/{path}", kind="hdf5", manual="the landing page", **kw)


def test_verified_download_and_no_refetch(server, tmp_path):
    dest = fetch(remote(server, checksum=md5(HDF5), size=len(HDF5)), tmp_path / "dl")
    assert dest.read_bytes() == HDF5
    fetch(remote(server, checksum=md5(HDF5)), tmp_path / "dl")
    assert server.gets("a.hdf") == [None]  # the second call found the verified file


def test_first_download_is_recorded_and_later_ones_must_match(server, tmp_path):
    folder = tmp_path / "dl"
    fetch(remote(server), folder)
    size, sha = download.RecordedManifest(folder).get("a.hdf")
    assert size == len(HDF5) and sha == "sha256:" + hashlib.sha256(HDF5).hexdigest()
    # the host now serves different bytes: a re-download no longer matches the record
    (folder / "a.hdf").unlink()
    (server.root / "a.hdf").write_bytes(HDF5[:-10] + b"0123456789")
    with pytest.raises(DownloadError, match="downloaded twice"):
        fetch(remote(server), folder)
    assert not (folder / "a.hdf").exists()


def test_checksum_mismatch_refetches_once_then_fails(server, tmp_path):
    with pytest.raises(DownloadError) as err:
        fetch(remote(server, checksum=md5(b"other bytes")), tmp_path / "dl")
    msg = str(err.value)
    assert "a.hdf" in msg and server.url in msg and "by hand" in msg and "the landing page" in msg
    assert server.gets("a.hdf") == [None, None]
    assert not (tmp_path / "dl/a.hdf").exists()


def test_truncated_file_is_detected(server, tmp_path):
    (server.root / "a.hdf").write_bytes(HDF5[: len(HDF5) // 3])  # the host holds a cut copy
    with pytest.raises(DownloadError, match="downloaded twice"):
        fetch(remote(server, checksum=md5(HDF5), size=len(HDF5)), tmp_path / "dl")
    assert len(server.gets("a.hdf")) == 2


def test_connection_cut_midway_resumes_with_a_range_request(server, tmp_path):
    server.faults["a.hdf"] = "cut"  # full Content-Length announced, half sent, then closed
    dest = fetch(remote(server, checksum=md5(HDF5)), tmp_path / "dl")
    assert dest.read_bytes() == HDF5
    ranges = server.gets("a.hdf")
    assert len(ranges) == 2 and ranges[0] is None
    resumed_at = int(ranges[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= len(HDF5) // 2  # whatever arrived before the cut was kept


def test_partial_file_from_an_earlier_run_is_resumed(server, tmp_path):
    folder = tmp_path / "dl"
    folder.mkdir()
    (folder / "a.hdf.part").write_bytes(HDF5[:1000])
    # the part was started under the file's current ETag: resumed with If-Range
    (folder / "a.hdf.part.validator").write_text(ETAG)
    dest = fetch(remote(server, checksum=md5(HDF5)), folder)
    assert dest.read_bytes() == HDF5
    assert server.gets("a.hdf") == ["bytes=1000-"]
    assert not (folder / "a.hdf.part").exists()
    assert not (folder / "a.hdf.part.validator").exists()


def test_a_part_of_a_file_the_host_has_changed_is_discarded(server, tmp_path):
    folder = tmp_path / "dl"
    folder.mkdir()
    (folder / "a.hdf.part").write_bytes(b"old version " * 100)
    (folder / "a.hdf.part.validator").write_text('"etag-of-the-old-version"')
    dest = fetch(remote(server), folder)
    assert dest.read_bytes() == HDF5
    assert server.gets("a.hdf") == [None]  # not resumed: fetched whole
    assert download.RecordedManifest(folder).get("a.hdf")[0] == len(HDF5)
    # and a part without a validator (of an unknown version) is not resumed either
    (folder / "a.hdf").unlink()
    (folder / "a.hdf.part").write_bytes(HDF5[:1000])
    fetch(remote(server), folder)
    assert server.gets("a.hdf")[-1] is None


def test_a_host_that_refuses_head_is_asked_with_get(server, tmp_path):
    server.faults["a.hdf"] = "no_head"
    dest = fetch(remote(server, checksum=md5(HDF5)), tmp_path / "dl")
    assert dest.read_bytes() == HDF5
    assert ("HEAD", "a.hdf", None) in server.requests


def test_http_503_is_retried(server, tmp_path):
    server.faults["a.hdf"] = "503_once"
    dest = fetch(remote(server, checksum=md5(HDF5)), tmp_path / "dl")
    assert dest.read_bytes() == HDF5


def test_without_content_length_the_first_download_is_recorded_only_when_two_copies_agree(
    server, tmp_path
):
    """A body cut short looks complete when the host sends no length: the first copy (cut)
    and the second (whole) differ, so nothing is recorded until two whole copies agree."""
    folder = tmp_path / "dl"
    server.faults["a.hdf"] = "no_length_cut_once"
    dest = fetch(remote(server), folder)
    assert dest.read_bytes() == HDF5
    assert download.RecordedManifest(folder).get("a.hdf") == (
        len(HDF5), "sha256:" + hashlib.sha256(HDF5).hexdigest())  # fmt: skip
    assert len(server.gets("a.hdf")) == 4  # cut + whole (differ), then whole + whole
    assert not list(folder.glob("a.hdf.second*"))


def test_a_torn_manifest_row_is_skipped_and_the_manifest_rewritten_whole(server, tmp_path):
    folder = tmp_path / "dl"
    folder.mkdir()
    sha = "sha256:" + "0" * 64
    (folder / "recorded_manifest.tsv").write_text(
        "path\tsize\tsha256\turl\trecorded\n"
        f"b.hdf\t5\t{sha}\thttp://x\t2026-01-01T00:00:00\n"
        "c.hdf\t12"  # a writer killed mid-line
    )
    manifest = download.RecordedManifest(folder)
    assert manifest.get("c.hdf") is None and manifest.get("b.hdf") == (5, sha)
    fetch(remote(server), folder)  # downloadable, and its record is not swallowed
    assert manifest.get("a.hdf")[0] == len(HDF5) and manifest.get("b.hdf") == (5, sha)
    assert "c.hdf" not in (folder / "recorded_manifest.tsv").read_text()


def test_empty_temporary_files_of_killed_downloads_are_removed(server, tmp_path):
    folder = tmp_path / "dl"
    folder.mkdir()
    (folder / "tmpk1ll3d").write_bytes(b"")
    fetch(remote(server, checksum=md5(HDF5)), folder)
    assert sorted(p.name for p in folder.iterdir()) == ["a.hdf"]


def test_server_without_ranges_restarts_the_partial_file(server, tmp_path):
    folder = tmp_path / "dl"
    folder.mkdir()
    (folder / "a.hdf.part").write_bytes(b"garbage" * 10)
    server.faults["a.hdf"] = "no_range"
    dest = fetch(remote(server, checksum=md5(HDF5)), folder)
    assert dest.read_bytes() == HDF5


def test_http_404_fails_at_once_with_the_manual_route(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404") as err:
        fetch(remote(server, path="missing.hdf"), tmp_path / "dl")
    assert "by hand" in str(err.value)
    assert len(server.gets("missing.hdf")) == 0  # the HEAD already said 404


def test_server_down_is_a_clear_error(tmp_path):
    with FileServer(tmp_path) as srv:
        url = srv.url
    dead = RemoteFile("a.hdf", f"{url}/a.hdf", kind="hdf5")
    with pytest.raises(DownloadError, match=r"could not reach .* after 3 tries"):
        fetch(dead, tmp_path / "dl")


def test_html_page_instead_of_data_is_rejected(server, tmp_path):
    server.faults["a.hdf"] = "html"
    with pytest.raises(DownloadError, match="HTML"):
        fetch(remote(server), tmp_path / "dl")
    assert not (tmp_path / "dl/a.hdf").exists()
    assert download.RecordedManifest(tmp_path / "dl").get("a.hdf") is None


def test_annex_pointer_is_rejected(server, tmp_path):
    (server.root / "p.hdf").write_bytes(b"/annex/objects/MD5E-s123--abcdef.hdf\n")
    with pytest.raises(DownloadError, match="git-annex pointer"):
        fetch(remote(server, path="p.hdf"), tmp_path / "dl")


@pytest.mark.parametrize(
    ("kind", "data", "ok"),
    [
        ("mat", b"MATLAB 5.0 MAT-file, Platform: x" + bytes(200), True),
        ("mat", b"\x89HDF\r\n\x1a\n" + bytes(200), False),
        ("npy", b"\x93NUMPY\x01\x00" + bytes(200), True),
        ("textgrid", 'File type = "ooTextFile"\n'.encode("utf-16"), True),
        ("textgrid", b'"Praat chronological TextGrid text file"\n0 1\n', True),
        ("textgrid", b"hello", False),
        ("json", b' {"a": 1}', True),
        ("json", b"<?xml version='1.0'?><Error>NoSuchKey</Error>", False),
    ],
)
def test_signatures(tmp_path, kind, data, ok):
    path = tmp_path / "f"
    path.write_bytes(data)
    if ok:
        download.check_signature(path, kind)
    else:
        with pytest.raises(download.CorruptDownload):
            download.check_signature(path, kind)


def test_committed_manifest_is_read_with_comments(tmp_path):
    path = tmp_path / "m.tsv"
    path.write_text(
        "# comment\npath\tsize_bytes\tmd5\tstorage\nx/y.hf5\t12\tabc\tannex\nz\t\t\tgit\n"
    )
    assert read_manifest(path) == {"x/y.hf5": (12, "md5:abc"), "z": (None, None)}
    with pytest.raises(DownloadError, match="does not exist"):
        read_manifest(tmp_path / "missing.tsv")


def test_unknown_kind_is_a_programming_error(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(ValueError, match="unknown file kind 'hfd5'"):
        download.check_signature(path, "hfd5")
