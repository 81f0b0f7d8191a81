"""Reading audit JSON reports back (`pixelspy audit merge`): the same report comes out, and hostile
files are one line and exit 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pixelspy.cli import main
from pixelspy.report import render_audit
from pixelspy.report.load import MAX_FILE_BYTES, LoadError, load_audit
from tests.audit_runs import audit_runs


def test_a_report_read_back_renders_the_same_in_every_format(tmp_path):
    runs = audit_runs()
    path = tmp_path / "audit.json"
    path.write_text(render_audit(runs, "json", "error"))
    loaded = load_audit(path)
    for fmt in ("json", "text", "html", "junit"):
        assert render_audit(loaded, fmt, "error") == render_audit(runs, fmt, "error"), fmt


def test_merge_joins_shards_into_one_matrix(tmp_path, capsys):
    """Two shards of one site (the same states): one row per pixel, its cells joined, each run's
    click judging its own events."""
    first, second = audit_runs(), audit_runs()
    for run in second:
        run.pages = ["https://www.shop.example/p/other"]
    (tmp_path / "1.json").write_text(render_audit(first, "json", "error"))
    (tmp_path / "2.json").write_text(render_audit(second, "json", "error"))
    code = main(["audit", "merge", str(tmp_path / "1.json"), str(tmp_path / "2.json"), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == doc["exit_code"] == 1
    assert len(doc["runs"]) == 6
    verdicts = {row["platform"]: row["verdicts"]["desktop"]["code"] for row in doc["matrix"]}
    assert verdicts["meta"] == "pre-consent" and verdicts["tiktok"] == "correct"
    tiktok = next(row for row in doc["matrix"] if row["platform"] == "tiktok")
    accept = next(c for c in tiktok["cells"] if c["state"] == "accept")
    single = json.loads(render_audit(first, "json", "error"))
    single_accept = next(c for row in single["matrix"] if row["platform"] == "tiktok"
                         for c in row["cells"] if c["state"] == "accept")
    assert accept["fired"] == 2 * single_accept["fired"] > 0


def test_merge_writes_the_report_to_out(tmp_path, capsys):
    (tmp_path / "1.json").write_text(render_audit(audit_runs(), "json", "error"))
    out = tmp_path / "merged"
    assert main(["audit", "merge", str(tmp_path / "1.json"), "--format", "html", "--out", str(out)]) == 1
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert capsys.readouterr().err == f"pixelspy audit: report written to {out / 'report.html'}\n"


def good_doc() -> dict:
    return json.loads(render_audit(audit_runs(), "json", "error"))


def broken(doc: dict, change) -> dict:
    change(doc)
    return doc


HOSTILE = {
    "not json": b"{\"runs\": [",
    "not utf-8": b"\xff\xfe{}",
    "a list": b"[]",
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "huge integer": b'{"runs": [{"events": 1' + b"0" * 5000 + b"}]}",
    "check report": json.dumps({"fail_on": "error", "exit_code": 0, "files": []}).encode(),
    "run not an object": json.dumps({"runs": ["x"]}).encode(),
    "count is text": json.dumps(broken(good_doc(), lambda d: d["runs"][0].update(events="7"))).encode(),
    "time is NaN": json.dumps(broken(good_doc(), lambda d: d["runs"][0].update(started=float("nan")))).encode(),
    "unknown kind": json.dumps(broken(good_doc(), lambda d: d["runs"][0]["spans"][0].update(kind="boom"))).encode(),
    "bad point": json.dumps(broken(good_doc(), lambda d: d["runs"][0]["timeline"].append([0, 10**6, "e"]))).encode(),
    "finding without event": json.dumps(broken(good_doc(), lambda d: d["runs"][0]["findings"][0].pop("event"))).encode(),
    "bad severity": json.dumps(broken(good_doc(),
                                      lambda d: d["runs"][0]["findings"][0].update(severity="fatal"))).encode(),
    "too many runs": json.dumps({"runs": [{}] * 1001}).encode(),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_report_is_one_line_and_exit_2(name, tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_bytes(HOSTILE[name])
    with pytest.raises(LoadError):
        load_audit(path)
    assert main(["audit", "merge", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"pixelspy audit merge: {path}") and err.count("\n") == 1, err


def test_a_huge_report_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk used
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000,) * 2);"
            "from pixelspy.cli import main; sys.exit(main(['audit', 'merge', sys.argv[1]]))")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (2, f"pixelspy audit merge: {path}: larger than 256 MB: not an audit report\n")


def test_a_missing_file_and_no_files(tmp_path, capsys):
    assert main(["audit", "merge", str(tmp_path / "none.json")]) == 2
    assert "none.json: cannot read: No such file or directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["audit", "merge"])
    assert e.value.code == 2


def test_sharding_is_stable_and_moves_few_urls():
    from pixelspy.audit.pages import shard

    urls = [f"https://shop.example/p/{i}" for i in range(400)]
    shards = [shard(urls, i, 4) for i in range(1, 5)]
    assert sorted(u for s in shards for u in s) == sorted(urls)  # each URL in exactly one shard
    assert all(60 < len(s) < 140 for s in shards)
    # Adding URLs (anywhere in the list) moves none of the others.
    more = urls[:200] + [f"https://shop.example/new/{i}" for i in range(50)] + urls[200:]
    for i in range(1, 5):
        assert [u for u in shard(more, i, 4) if u in set(urls)] == shards[i - 1]




def test_an_empty_shard_writes_an_empty_report_without_a_browser(tmp_path, capsys):
    pytest.importorskip("playwright.async_api")
    pytest.importorskip("duckduckgo_autoconsent")
    from pixelspy.audit.pages import shard

    urls = tmp_path / "pages.txt"
    urls.write_text("https://shop.example/\n")
    empty = next(i for i in range(1, 5) if not shard(["https://shop.example/"], i, 4))
    out = tmp_path / "audit"
    assert main(["audit", "--urls", str(urls), "--shard", f"{empty}/4", "--format", "json", "--out", str(out),
                 "--browser", str(tmp_path / "no-such-browser")]) == 0
    assert json.loads((out / f"report-{empty}-of-4.json").read_text())["runs"] == []
    with pytest.raises(SystemExit):
        main(["audit", "--urls", str(urls), "--shard", "5/4"])
    with pytest.raises(SystemExit):
        main(["audit", "https://shop.example/", "--shard", "1/4"])  # a crawl is not split
    assert "--shard splits a --urls FILE" in capsys.readouterr().err
