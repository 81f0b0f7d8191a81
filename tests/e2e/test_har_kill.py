"""`pixelspy --no-ui --sink --har FILE --session SESSION` killed with -9 in the middle of a burst of
tracking hits: `pixelspy open SESSION --har OUT` gives every hit answered 250 ms or more before the
kill, with its answer (README, Sessions)."""

from __future__ import annotations

import asyncio
import json
import time

from pixelspy import cli, har
from pixelspy.session import Session

PIXEL = "1234567890123456"
HITS = 2000
KILL_AFTER = 600  # hits answered
CONNECTIONS = 8
LOSES_AT_MOST_S = 0.25


def pageview(i: int) -> bytes:
    """A Meta Pixel PageView as fbevents.js sends it (image GET), through the proxy in absolute form."""
    url = (f"http://www.facebook.com/tr/?id={PIXEL}&ev=PageView&dl=https%3A%2F%2Fshop.example%2Fp%2F{i}"
           f"&rl=&if=false&ts={1_700_000_000_000 + i}&sw=1920&sh=1080&v=2.9.179&r=stable&ec=0&o=4126"
           f"&eid=ev-{i}&it=1700000000000&coo=false&rqm=GET")
    return (f"GET {url} HTTP/1.1\r\nHost: www.facebook.com\r\nAccept: image/avif,image/webp,*/*\r\n"
            f"Referer: https://shop.example/p/{i}\r\n\r\n").encode()


async def _one_connection(port: int, ids: range, answered: dict[int, float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i in ids:
            writer.write(pageview(i))
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            answered[i] = time.monotonic()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # the kill
    finally:
        writer.close()


async def burst_then_kill(p) -> tuple[dict[int, float], float]:
    """HITS keep-alive requests over CONNECTIONS connections, pixelspy killed once KILL_AFTER were
    answered; when each was answered, and when the kill came."""
    answered: dict[int, float] = {}
    tasks = [asyncio.create_task(_one_connection(p.port, range(c, HITS, CONNECTIONS), answered))
             for c in range(CONNECTIONS)]
    while len(answered) < KILL_AFTER and not all(t.done() for t in tasks):
        await asyncio.sleep(0.005)
    p.proc.kill()
    killed = time.monotonic()
    await asyncio.gather(*tasks)
    return answered, killed


def test_kill_minus_9_in_a_burst_then_open_session_har_recovers_all_but_the_last_250_ms(pixelspy_factory, tmp_path,
                                                                                         capsys):
    out, session_file = tmp_path / "burst.har", tmp_path / "burst.pixelspy"
    p = pixelspy_factory("--sink", "--har", str(out), "--session", str(session_file))
    answered, killed = asyncio.run(burst_then_kill(p))
    p.proc.wait(10)
    assert p.proc.returncode == -9
    assert json.loads(out.read_text())["log"]["entries"] == []  # the file written at start, valid

    recovered = tmp_path / "recovered.har"
    assert cli.main(["open", str(session_file), "--har", str(recovered)]) == 0
    entries = json.loads(recovered.read_text())["log"]["entries"]
    kept = {e["request"]["url"].partition("&eid=")[2].partition("&")[0]: e for e in entries}
    due = {f"ev-{i}" for i, t in answered.items() if t <= killed - LOSES_AT_MOST_S}
    assert len(due) > 100, len(due)  # the burst reached the proxy well before the kill
    assert due - set(kept) == set()
    assert {kept[i]["response"]["status"] for i in due} == {200}  # each with the sink's answer
    assert {line["event"] for e in entries for line in e["_pixelspy"]["events"]} == {"PageView"}
    s = Session()
    har.load_file(recovered, s)
    assert len(s) == len(entries) and f"wrote {len(entries):,} entries" in capsys.readouterr().err
