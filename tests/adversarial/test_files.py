"""Hostile bodies and files: decompression bombs in tracking hits (decoding, redaction when saving)
and in HAR files (.zhar, .har.gz), huge values, deep nesting and broken URLs in HARs.

Each attack runs in a fresh Python (its address space capped, so a regression fails the test instead
of the machine) that reports how much its peak RSS grew while the attack ran, and how long it took.
Before these were bounded the same attacks took 0.6-5.5 GB and 8-97 s (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import base64
import gzip
import json
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import brotli
import pytest
import zstandard

from pixelspy import decoders, har
from pixelspy.cli import files
from pixelspy.model import RawHit
from tests.adversarial.bombs import MB, b64_gzip_bomb, brotli_bomb, gzip_bomb, zlib_bomb, zstd_bomb

MAX_GROWTH_MB = 250  # peak RSS growth allowed while an attack runs (the old reader: 340-450 MB here)
MAX_SECONDS = 30  # generous: the slowest attack takes about 3 s on a loaded machine
ADDRESS_SPACE = 3 << 30  # a child that goes unbounded dies of MemoryError, not the machine

PRELUDE = """
import json, resource, sys, time
from pathlib import Path
from pixelspy import decoders, har
from pixelspy.model import RawHit
from pixelspy.session import Session
data = Path(sys.argv[1]).read_bytes()
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def attack(code: str, *args: str | Path) -> dict:
    """Run `code` (which sets `result`) after PRELUDE in a fresh Python; its result, peak RSS growth
    (MB) and seconds. `data` holds the file named by the first argument."""
    script = (PRELUDE + "base, t = peak(), time.perf_counter()\n" + textwrap.dedent(code)
              + 'print(json.dumps({"result": result, "grew_mb": peak() - base, "seconds": time.perf_counter() - t}))')
    proc = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                          timeout=120, preexec_fn=_cap_memory, cwd=Path(__file__).parents[2])
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["grew_mb"] < MAX_GROWTH_MB, out
    assert out["seconds"] < MAX_SECONDS, out
    return out["result"]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


META_FORM = b"id=1234567890&ev=Lead&ud[em]=alice@shop.com&cd[note]="
ENTRY_JSON = json.dumps({"startedDateTime": "2026-12-01T10:00:00Z", "request": {
    "method": "GET", "url": "https://www.facebook.com/tr/?id=1234567890&ev=PageView"}}).encode()


def har_doc(entries: list[bytes], log_extra: bytes = b"") -> bytes:
    return b'{"log": {' + log_extra + b'"entries": [' + b",".join(entries) + b"]}}"


# ------------------------------------------------------------------------------ bodies on the wire


@pytest.mark.parametrize("coding, bomb", [("br", brotli_bomb), ("zstd", zstd_bomb)])
def test_a_bomb_in_a_tracking_hit_decodes_its_start_and_says_it_was_cut(tmp_path, coding, bomb):
    # 256 MB in 500 bytes (brotli: 1 GiB in 1.6 KB); before, brotli and zstd bodies were not decoded.
    body = write(tmp_path / "b", bomb(256 * MB, META_FORM))
    result = attack(f"""
        hit = RawHit(method="POST", url="https://www.facebook.com/tr/", body=data, headers=(
            ("content-type", "application/x-www-form-urlencoded"), ("content-encoding", {coding!r})))
        result = [(ev.pixel_id, ev.event, ev.decode_errors) for ev in decoders.default_registry().decode(hit)]
    """, body)
    assert result == [["1234567890", "Lead", [f"{coding} body decodes to more than 2097152 bytes; cut there"]]]


@pytest.mark.parametrize("coding, pack", [("br", brotli.compress), ("zstd", zstandard.compress),
                                          ("gzip, br", lambda b: brotli.compress(gzip.compress(b)))])
def test_brotli_and_zstd_bodies_are_decoded(coding, pack):
    hit = RawHit(method="POST", url="https://www.facebook.com/tr/", body=pack(META_FORM + b"x"), headers=(
        ("content-type", "application/x-www-form-urlencoded"), ("content-encoding", coding)))
    (ev,) = decoders.default_registry().decode(hit)
    assert (ev.pixel_id, ev.event, ev.param("cd[note]"), ev.decode_errors) == ("1234567890", "Lead", "x", ())


def _saved_body(tmp_path: Path, url: str, body: bytes, headers: list[list[str]]) -> dict:
    """The request of a hit as a redacted HAR entry, written from a fresh process."""
    return attack(f"""
        hit = RawHit(method="POST", url={url!r}, body=data, headers={headers!r})
        result = har.render_entry(hit, [], None, redact=True)["request"]
    """, write(tmp_path / "body", body))


def test_gzip_bomb_is_redacted_up_to_the_cap_and_saved_cut_with_a_note(tmp_path):
    # 256 KB on the wire, 256 MB inflated (1 MB → 1 GiB took 5.4 GB and a minute to redact).
    req = _saved_body(tmp_path, "https://www.facebook.com/tr/", gzip_bomb(256 * MB, META_FORM),
                      [["Content-Type", "application/x-www-form-urlencoded"], ["Content-Encoding", "gzip"]])
    post = req["postData"]
    assert post["comment"] == "body cut by pixelspy at its size limit"
    kept = gzip.decompress(base64.b64decode(post["text"]))
    assert len(kept) == har.MAX_REDACTED_BODY and kept.startswith(b"id=1234567890&ev=Lead&ud[em]=xxxxx@xxxx.xxx&cd[note]=aaa")


def test_base64_gzip_bomb_beacon_is_redacted_up_to_the_cap(tmp_path):
    # LinkedIn /wa/: base64 text of gzip, 256 MB once unpacked (2.7 MB → 2 GiB took 5.5 GB, 97 s).
    req = _saved_body(tmp_path, "https://px.ads.linkedin.com/wa/",
                      b64_gzip_bomb(256 * MB, b'{"pids":[1],"email":"alice@shop.com","x":"'),
                      [["Content-Type", "text/plain;charset=UTF-8"]])
    kept = gzip.decompress(base64.b64decode(req["postData"]["text"]))
    assert req["postData"]["comment"] == "body cut by pixelspy at its size limit"
    assert len(kept) == har.MAX_REDACTED_BODY and kept.startswith(b'{"pids":[1],"email":"xxxxx@xxxx.xxx","x":"aaa')


# ---------------------------------------------------------------------------------------- HAR files

OPEN = """
session = Session()
try:
    loaded = har.load_file(sys.argv[1], session)
    result = {"events": [ev.event for ev in session], "problems": loaded.problems}
except har.HarReadError as e:
    result = {"error": str(e)}
"""


def test_zhar_bomb_is_read_a_chunk_at_a_time(tmp_path):
    # 128 KB on disk, 128 MB of JSON: a string outside log.entries, then the entries (4 MB → 4 GiB
    # took 4.1 GB and 28 s to fail with MemoryError).
    bomb = zlib_bomb(128 * MB, b'{"log": {"comment": "', b'", "entries": [' + ENTRY_JSON + b"]}}")
    assert attack(OPEN, write(tmp_path / "bomb.zhar", bomb)) == {"events": ["PageView"], "problems": []}


def test_har_gz_with_a_huge_value_outside_the_entries_is_stepped_over(tmp_path):
    # Arrays, objects and strings outside the entries are skipped without being built.
    huge = b'"pages": [{"x": [[["' + b"a" * 10 + b'\\"'
    bomb = gzip_bomb(128 * MB, b'{"creator": {"name": "x"}, "log": {' + huge,
                     b'"]]]}], "entries": [' + ENTRY_JSON + b"]}}")
    assert attack(OPEN, write(tmp_path / "bomb.har.gz", bomb)) == {"events": ["PageView"], "problems": []}


def test_an_entry_over_64_mb_is_named_and_skipped(tmp_path):
    big = b'{"request": {"method": "POST", "url": "https://www.facebook.com/tr/", "postData": {"text": "'
    bomb = gzip_bomb(100 * MB, b'{"log": {"entries": [' + ENTRY_JSON + b"," + big,
                     b'"}}},' + ENTRY_JSON + b"]}}")
    assert attack(OPEN, write(tmp_path / "big.har.gz", bomb)) == {
        "events": ["PageView", "PageView"], "problems": ["log.entries[1]: larger than 64 MB of JSON; entry skipped"]}


def test_a_compressed_flow_file_cannot_make_mitmproxy_read_a_gigabyte_record(tmp_path, capsys):
    # A tnetstring record is read whole, as long as its length prefix says: 200 MB here.
    bomb = gzip_bomb(200 * MB, b"%d:" % (200 * MB), b",")
    assert attack(OPEN, write(tmp_path / "bomb.flows.gz", bomb)) == {
        "error": "not a mitmproxy flow file (Invalid data format.: a record larger than 64 MB)"}


def test_deep_nesting_and_a_broken_url_skip_their_entries_and_keep_the_others(tmp_path, capsys):
    deep = b'{"request": {"url": "https://www.facebook.com/tr/", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    bad_url = json.dumps({"request": {"url": "https://[::1:bad/tr/?id=1&ev=Lead"}}).encode()
    path = write(tmp_path / "broken.har", har_doc([ENTRY_JSON, deep, bad_url, ENTRY_JSON],
                                                   b'"x": ' + b"[" * 5000 + b"]" * 5000 + b","))
    assert files.open_main([str(path), "--no-ui"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["event"] for line in out.splitlines()] == ["PageView", "PageView"]
    [imported] = (tmp_path / "sessions").glob("*.pixelspy")  # the rest imported into a session file
    assert err.splitlines() == [
        f"pixelspy: {path}: log.entries[1]: nested deeper than the JSON parser goes; entry skipped",
        f"pixelspy: {path}: log.entries[2]: request.url 'https://[::1:bad/tr/?id=1&ev=Lead' is not a valid URL "
        "(Invalid IPv6 URL); entry skipped",
        f"pixelspy: the session is in {imported} (pixelspy open {imported})"]
    assert files.check_main([str(path)]) == 2  # skipped entries are unreadable input: 2, not 1 ("findings")
    out = capsys.readouterr().out
    assert f"{path}: 2 events," in out
    assert "  unreadable  log.entries[1]: nested deeper than the JSON parser goes; entry skipped" in out


def test_many_broken_entries_cost_linear_time(tmp_path):
    # Each JSONDecodeError counted the lines of the whole buffer before it: 30,000 broken entries
    # took 6 s and 300,000 (9.6 MB) two minutes. Now 300,000 take ≈ 3 s; 50,000 would take 17 s.
    broken = b'{"request": {"url": "x", tru}}'
    path = write(tmp_path / "broken.har", har_doc([broken] * 50_000 + [ENTRY_JSON]))
    started = time.perf_counter()
    reader = har.FileReader(path)
    hits = list(reader)
    assert time.perf_counter() - started < 8
    assert len(hits) == 1 and len(reader.problems) == 50_000
    # Byte offsets stay right after the buffer is cut down.
    at = path.read_bytes().rindex(broken) + broken.index(b"tru")
    assert reader.problems[-1].startswith(f"log.entries[49999]: not valid JSON at byte {at}:")


def test_a_broken_zlib_stream_is_a_read_error(tmp_path):
    packed = zlib_bomb(1 * MB, b'{"log": {"entries": [')
    broken = write(tmp_path / "broken.zhar", packed[:40] + b"\xff" * 64 + packed[104:])
    with pytest.raises(har.HarReadError, match=r"the zlib stream is broken \(Error -3 .*invalid"):
        list(har.FileReader(broken))
