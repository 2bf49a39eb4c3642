"""Verified, resumable downloads of dataset files (pooch over HTTP, gdown for Google Drive).

Every file a source needs is a :class:`RemoteFile`: its path inside the dataset's download
folder, its URL, the checksum it must have (when known in advance) and the signature its
first bytes must carry. :func:`fetch` downloads it with these guarantees:

- the bytes go to ``<file>.part`` first; an interrupted download resumes from there with an
  HTTP ``Range`` request when the server accepts ranges, guarded by ``If-Range`` with the ETag
  (or Last-Modified) the part was started under: a part of a file the host has since changed
  is discarded; a host that refuses ``HEAD`` is asked with ``GET``;
- network errors and HTTP 429 / 5xx are retried with backoff;
- the finished file is checked: signature (an HTML error page or a git-annex pointer saved
  as data is rejected), size against the server's ``Content-Length``, and checksum;
- a file that fails a check is fetched once more, then the download fails with a message
  naming the file, the URL and the manual route;
- checksums: the committed manifest under ``resources/manifests/`` holds them where the
  host publishes them (ds003020: md5). Where it does not (HP, GIN), the size and sha256 of
  the first verified download are recorded in ``<download folder>/recorded_manifest.tsv``
  and every later download of that file must match them (trust on first use). Only bytes of
  a known length are recorded: without ``Content-Length`` the file is fetched twice and
  recorded only when both copies agree. The manifest is rewritten atomically and a torn row
  (a killed writer) is skipped.

Fetching, resuming, signature and checksum checks and manifests are one job and stay in
this one module (about 430 lines).
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pooch
import requests

from brainattr.errors import DownloadError

log = logging.getLogger(__name__)

# First bytes of each file kind (textgrid and json are checked in check_signature).
SIGNATURES = {
    "mat": b"MATLAB 5.0 MAT-file",
    "hdf5": b"\x89HDF\r\n\x1a\n",
    "npy": b"\x93NUMPY",
    "pickle_npy": b"\x93NUMPY",  # an object array: loaded by a restricted unpickler
}
KINDS = (*SIGNATURES, "textgrid", "json", "pickle_npy", "any")
NETWORK_TRIES = 3
RETRY_STATUS = (429, 500, 502, 503, 504)
REFUSED_HEAD = (403, 405, 501)
RECORDED = "recorded_manifest.tsv"


class CorruptDownload(ValueError):
    """A downloaded file failed a check (pooch retries on ValueError)."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset source.

    Attributes
    ----------
    path : str
        Relative path inside the dataset's download folder (also its path under a mirror).
    url : str
        Where it is fetched from; ``gdrive://<folder id>/<path>`` for a Google Drive folder.
    checksum : str or None
        ``md5:<hex>`` or ``sha256:<hex>`` when known in advance.
    size : int or None
        Size in bytes when known in advance.
    kind : str
        One of ``KINDS``: the signature the file's first bytes must carry.
    manual : str
        How to get the file by hand (a landing page), for error messages.
    """

    path: str
    url: str
    checksum: str | None = None
    size: int | None = None
    kind: str = "any"
    manual: str = ""


def file_checksum(path: str | Path, algorithm: str = "sha256") -> str:
    """``<algorithm>:<hex digest>`` of a file."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return f"{algorithm}:{h.hexdigest()}"


def check_signature(path: str | Path, kind: str) -> None:
    """Raise :class:`CorruptDownload` unless the file's first bytes fit ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"unknown file kind {kind!r}; known: {KINDS}")
    with open(path, "rb") as f:
        head = f.read(1024)
    stripped = head.lstrip(b"\xef\xbb\xbf").lstrip()
    lowered = stripped[:64].lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<html" in lowered:
        raise CorruptDownload(f"{path} is an HTML/XML page, not data (an error or login page)")
    if b".git/annex/objects/" in head[:300] or stripped.startswith(b"/annex/objects/"):
        raise CorruptDownload(f"{path} is a git-annex pointer, not the annexed data")
    if not head:
        raise CorruptDownload(f"{path} is empty")
    if kind in SIGNATURES:
        if not head.startswith(SIGNATURES[kind]):
            raise CorruptDownload(f"{path} does not start with the {kind} signature")
    elif kind == "textgrid":
        text = _decode_head(head)
        if "ooTextFile" not in text and "Praat chronological TextGrid" not in text:
            raise CorruptDownload(f"{path} is not a Praat TextGrid")
    elif kind == "json" and not stripped.startswith((b"{", b"[")):
        raise CorruptDownload(f"{path} is not JSON")


def _decode_head(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="ignore")
    return head.decode("utf-8", errors="ignore")


class RecordedManifest:
    """Sizes and sha256 of files verified at their first download (``recorded_manifest.tsv``).

    Several download jobs may write at once: each write holds an exclusive lock.
    """

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / RECORDED

    COLUMNS = ("path", "size", "sha256", "url", "recorded")

    def rows(self) -> list[dict]:
        """Every complete record; a torn row (a writer killed mid-line) is skipped."""
        if not self.path.is_file():
            return []
        out = []
        with open(self.path, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                size, sha = row.get("size") or "", row.get("sha256") or ""
                if size.isdigit() and sha.startswith("sha256:") and len(sha) == 71:
                    out.append(row)
                else:
                    log.warning("%s: skipping an incomplete record %s", self.path, dict(row))
        return out

    def get(self, relpath: str) -> tuple[int, str] | None:
        for row in self.rows():
            if row["path"] == relpath:
                return int(row["size"]), row["sha256"]
        return None

    def record(self, relpath: str, size: int, sha256: str, url: str) -> None:
        """Add a record: the whole file is rewritten to a temporary file and renamed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            rows = self.rows()
            if any(r["path"] == relpath for r in rows):
                return
            rows.append({"path": relpath, "size": size, "sha256": sha256, "url": url,
                         "recorded": time.strftime("%Y-%m-%dT%H:%M:%S")})  # fmt: skip
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "w", newline="") as f:
                w = csv.DictWriter(f, self.COLUMNS, delimiter="\t", lineterminator="\n",
                                   extrasaction="ignore")  # fmt: skip
                w.writeheader()
                w.writerows(rows)
            os.replace(tmp, self.path)


def read_manifest(path: str | Path) -> dict[str, tuple[int | None, str | None]]:
    """{path: (size, checksum)} from a committed manifest TSV (``#`` lines are comments).

    Columns: ``path``, ``size_bytes`` and one of ``md5`` / ``sha256``; empty cells = unknown.
    """
    path = Path(path)
    if not path.is_file():
        raise DownloadError(f"manifest {path} does not exist (config key datasets.<name>.manifest)")
    out: dict[str, tuple[int | None, str | None]] = {}
    with open(path, newline="") as f:
        rows = csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t")
        for row in rows:
            size = int(row["size_bytes"]) if row.get("size_bytes") else None
            checksum = None
            for algo in ("sha256", "md5"):
                if row.get(algo):
                    checksum = f"{algo}:{row[algo]}"
                    break
            out[row["path"]] = (size, checksum)
    return out


class ResumableHTTPDownloader:
    """A pooch downloader that keeps ``<dest>.part`` and resumes it with a Range request.

    Parameters
    ----------
    part : Path
        The partial file kept between attempts.
    kind : str
        Signature checked once the bytes are complete.
    timeout : float
    """

    def __init__(self, part: Path, kind: str, timeout: float = 60.0):
        self.part, self.kind, self.timeout = part, kind, timeout
        self.validator_file = Path(str(part) + ".validator")
        self.length_known = True  # until a download without Content-Length

    def _probe(self, url: str) -> requests.Response:
        """The file's headers: HEAD, or a GET whose body is not read where HEAD is refused."""
        head = requests.head(url, timeout=self.timeout, allow_redirects=True)
        if head.status_code in REFUSED_HEAD:
            head = requests.get(url, timeout=self.timeout, allow_redirects=True, stream=True)
            head.close()
        head.raise_for_status()
        return head

    def __call__(self, url: str, output_file: str, pooch_obj, check_only: bool = False):
        head = self._probe(url)
        total = int(head.headers.get("content-length", 0)) or None
        self.length_known = total is not None
        validator = head.headers.get("etag") or head.headers.get("last-modified") or ""
        start = self.part.stat().st_size if self.part.is_file() else 0
        resumable = head.headers.get("accept-ranges", "").lower() == "bytes" and total
        started_under = self.validator_file.read_text() if self.validator_file.is_file() else None
        if start and not (resumable and start < total and validator and started_under == validator):
            start = 0  # cannot resume, or the part is of another version of the file: restart
        if start:
            log.info("resuming %s at byte %d of %d", url, start, total)
        else:
            self.validator_file.write_text(validator)
        headers = {"Range": f"bytes={start}-", "If-Range": validator} if start else {}
        with open(self.part, "ab" if start else "wb") as f:
            pooch.HTTPDownloader(progressbar=True, headers=headers, timeout=self.timeout)(
                url, f, pooch_obj
            )
        size = self.part.stat().st_size
        if total is not None and size != total:
            self.part.unlink()
            raise CorruptDownload(f"received {size} bytes of {total}")
        try:
            check_signature(self.part, self.kind)
        except CorruptDownload:
            self.part.unlink()
            raise
        os.replace(self.part, output_file)
        self.validator_file.unlink(missing_ok=True)


class DriveDownloader:
    """Fetch a file of a public Google Drive folder by its path inside the folder (gdown).

    The folder is listed once (``drive_listing.tsv`` in the download folder) to map paths to
    file ids; each file is then downloaded by id, resuming a partial file.
    """

    def __init__(self, folder_id: str, relpath: str, listing: Path, kind: str):
        self.folder_id, self.relpath, self.listing, self.kind = folder_id, relpath, listing, kind

    def file_id(self) -> str:
        import gdown

        if not self.listing.is_file():
            url = f"https://drive.google.com/drive/folders/{self.folder_id}"
            entries = gdown.download_folder(url, skip_download=True, quiet=True)
            if not entries:
                raise requests.ConnectionError(f"could not list the Google Drive folder {url}")
            tmp = self.listing.with_suffix(".tmp")
            tmp.write_text("".join(f"{e.path}\t{e.id}\n" for e in entries))
            os.replace(tmp, self.listing)
        for line in self.listing.read_text().splitlines():
            path, _, fid = line.partition("\t")
            # gdown lists paths under the folder's own name
            if path == self.relpath or path.endswith("/" + self.relpath):
                return fid
        raise DownloadError(f"{self.relpath} is not in the Google Drive folder {self.folder_id}")

    def __call__(self, url: str, output_file: str, pooch_obj, check_only: bool = False):
        import gdown

        part = Path(str(output_file) + ".gdown")
        gdown.download(id=self.file_id(), output=str(part), quiet=False, resume=True)
        check_signature(part, self.kind)
        os.replace(part, output_file)


def _downloader(remote: RemoteFile, dest: Path) -> Callable:
    if remote.url.startswith("gdrive://"):
        folder_id, _, relpath = remote.url[len("gdrive://") :].partition("/")
        listing = dest.parent / "drive_listing.tsv"
        return DriveDownloader(folder_id, relpath, listing, remote.kind)
    return ResumableHTTPDownloader(Path(str(dest) + ".part"), remote.kind)


def _manual(remote: RemoteFile, dest: Path) -> str:
    where = remote.manual or remote.url
    return (
        f"Download it by hand from {where} and place it at {dest} (or point the dataset's "
        "base_url at a mirror), then rerun; files already in place are kept."
    )


def fetch(remote: RemoteFile, folder: str | Path) -> Path:
    """Download and verify one file into ``folder`` (see the module docstring).

    Parameters
    ----------
    remote : RemoteFile
    folder : str or Path
        The dataset's download folder; the file lands at ``folder / remote.path``.

    Returns
    -------
    path : Path

    Raises
    ------
    DownloadError
        Server unreachable, HTTP error, or a file that failed its checks twice.
    """
    folder = Path(folder)
    dest = folder / remote.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    _clean_temporaries(dest.parent)
    recorded = RecordedManifest(folder)
    expected_size, checksum = remote.size, remote.checksum
    if checksum is None and (rec := recorded.get(remote.path)):
        expected_size, checksum = rec
    problem = ""
    for attempt in (1, 2):
        try:
            downloader = _retrieve(remote, dest, checksum)
            check_signature(dest, remote.kind)
            size = dest.stat().st_size
            if expected_size is not None and size != expected_size:
                raise CorruptDownload(f"{size} bytes, the manifest says {expected_size}")
            first_use = checksum is None and expected_size is None
            if first_use and not getattr(downloader, "length_known", True):
                _confirm_by_second_copy(remote, dest)
        except CorruptDownload as err:
            problem = str(err)
        except ValueError as err:  # pooch: checksum mismatch
            problem = str(err).splitlines()[0]
        else:
            if remote.checksum is None and recorded.get(remote.path) is None:
                recorded.record(remote.path, size, file_checksum(dest), remote.url)
            return dest
        log.warning("%s failed verification (attempt %d): %s", remote.path, attempt, problem)
        dest.unlink(missing_ok=True)
    raise DownloadError(
        f"{remote.path}: downloaded twice from {remote.url} and still wrong ({problem}). "
        + _manual(remote, dest)
    )


def _clean_temporaries(folder: Path) -> None:
    """Remove pooch's empty temporary files left by killed downloads. Safe while other jobs
    download into the folder: the downloaders write ``.part`` files and move the finished
    bytes into their temporary file only at the end (a rename recreates it)."""
    for tmp in folder.glob("tmp*"):
        if tmp.is_file() and tmp.stat().st_size == 0 and tmp.suffix == "":
            tmp.unlink(missing_ok=True)


def _confirm_by_second_copy(remote: RemoteFile, dest: Path) -> None:
    """The host sent no length, so a cut-short body looks complete: fetch a second copy and
    trust the bytes only if both agree (they are then recorded)."""
    copy = dest.with_name(dest.name + ".second")
    try:
        _retrieve(remote, copy, None)
        if file_checksum(copy) != file_checksum(dest):
            raise CorruptDownload("the host sends no Content-Length and two downloads differ")
    finally:
        copy.unlink(missing_ok=True)


def _retrieve(remote: RemoteFile, dest: Path, checksum: str | None) -> Callable:
    """pooch.retrieve with retries on network errors and HTTP 429 / 5xx (each retry resumes
    the .part file); returns the downloader of the last try."""
    for attempt in range(1, NETWORK_TRIES + 1):
        downloader = _downloader(remote, dest)
        try:
            pooch.retrieve(
                remote.url,
                known_hash=checksum,
                fname=dest.name,
                path=dest.parent,
                downloader=downloader,
            )
            return downloader
        except requests.HTTPError as err:
            status = err.response.status_code if err.response is not None else "?"
            if status not in RETRY_STATUS or attempt == NETWORK_TRIES:
                raise DownloadError(
                    f"{remote.path}: HTTP {status} from {remote.url}"
                    + (f" after {attempt} tries" if status in RETRY_STATUS else "")
                    + ". "
                    + _manual(remote, dest)
                ) from err
            log.warning("HTTP %s on %s (try %d): retrying", status, remote.url, attempt)
            time.sleep(min(2**attempt, 10))
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as err:
            if attempt == NETWORK_TRIES:
                raise DownloadError(
                    f"{remote.path}: could not reach {remote.url} after {NETWORK_TRIES} tries "
                    f"({type(err).__name__}). Check the network or the dataset's base_url. "
                    + _manual(remote, dest)
                ) from err
            log.warning("network error on %s (try %d): %s", remote.url, attempt, err)
            time.sleep(min(2**attempt, 10))
