"""The indexed queries a viewer filters a session file with (the TUI's filter language, pixelspy/tui/
filters.py, says what to ask): how many events match (`FileFilter.count`) and the seqs of rows k…k+n
of them (`FileFilter.seqs`), from the indexes alone where the file has them, stoppable when a newer
filter supersedes the query. A filter is one SQL compound of its conditions' seqs, each in seq order
(an index holds the seq): SQLite merges them (INTERSECT, EXCEPT) without a list of either."""

from __future__ import annotations

import sqlite3
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from pixelspy.store.reader import first_seq, last_seq, seq_run
from pixelspy.store.records import row_words
from pixelspy.store.schema import FTS_TABLE, SEVERITY_RANK, has_fts_table, words_upto

# The filters a viewer asks for, each an indexed column.
FILTER_COLUMNS = ("platform", "pixel", "event", "device")


_IN_JSON = "json LIKE ? ESCAPE '\\'"


def _like(word: str) -> str:
    """A LIKE pattern (for _IN_JSON) matching `word` anywhere."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class Stopped(Exception):
    """A filter's query stopped by its `stop` (a newer filter asked)."""


# How often (in steps of SQLite's virtual machine: ≈ 10 ms) a filter's query asks whether to stop:
# each check waits for the GIL (up to the switch interval, 1 ms in pixelspy's process, when the
# event loop draws), so not often.
STOP_CHECK_STEPS = 100_000


@dataclass
class _Part:
    """The seqs of one condition in (after, upto]: `sql` selects them (in seq order where an index
    or the table gives it; SQLite sorts the others), `seq` names their column for the range."""

    sql: str
    args: list
    seq: str = "seq"

    def within(self, after: int, upto: int) -> tuple[str, list]:
        return f"{self.sql} AND {self.seq} > ? AND {self.seq} <= ?", [*self.args, after, upto]


@dataclass
class _Indexed:
    """`expr IN (values)`, which an index answers alone (with the seq each entry holds); `expr`
    names the columns of table alias `{t}` (empty: events)."""

    index: str
    expr: str
    values: list

    def on(self, alias: str = "") -> str:
        return f"{self._expr(alias)} IN ({','.join('?' * len(self.values))})"

    def part(self, indexed: bool) -> _Part:
        return _Part(f"SELECT seq FROM events{self._by(indexed)} WHERE {self.on()}", list(self.values))

    def outside(self, db: sqlite3.Connection) -> list[_Part]:
        """The rows it does not match, as parts of its index alone (NOT IN, or an OR of ranges, made
        SQLite read every entry or row): a range of the index for each other value it holds, each
        already in seq order (kind:event: the pixel_loaded rows, no sort); where the column has more
        than MOST_OTHER_VALUES others, the ranges around `values`."""
        e, by = self._expr(""), self._by(True)
        others = self._other_values(db)
        if others is None:
            values = sorted(self.values)
            ranges = [(f"{e} < ?", [values[0]]), *((f"{e} > ? AND {e} < ?", [a, b]) for a, b in zip(values, values[1:])),
                      (f"{e} > ?", [values[-1]])]
        else:
            ranges = [(f"{e} = ?", [v]) for v in others]
        if db.execute(f"SELECT 1 FROM events{by} WHERE {e} IS NULL LIMIT 1").fetchone():
            ranges.append((f"{e} IS NULL", []))
        return [_Part(f"SELECT seq FROM events{by} WHERE {r}", args) for r, args in ranges]

    def _other_values(self, db: sqlite3.Connection) -> list | None:
        """The values of the index but this one's (a seek each), None when more than MOST_OTHER_VALUES."""
        e, mine = self._expr(""), set(self.values)
        sql = f"SELECT min({e}) FROM events INDEXED BY {self.index}"
        found: list = []
        value = db.execute(sql).fetchone()[0]
        while value is not None:
            if value not in mine:
                if len(found) == MOST_OTHER_VALUES:
                    return None
                found.append(value)
            value = db.execute(f"{sql} WHERE {e} > ?", (value,)).fetchone()[0]
        return found

    def _by(self, indexed: bool) -> str:
        # (INDEXED BY: SQLite, without statistics, may read the table in seq order, every row)
        return f" INDEXED BY {self.index}" if indexed else ""

    def _expr(self, alias: str) -> str:
        return self.expr.format(t=f"{alias}." if alias else "")


# A column with more values than this besides a filter's: its rows left out are read as the ranges
# around the filter's values (the values found by a seek each).
MOST_OTHER_VALUES = 64
# The events with a finding matching {}.
_WITH_FINDING = "SELECT e.seq FROM findings JOIN events AS e ON e.id = findings.event_id WHERE {}"
# Which conditions match most rows is told by their matches among the newest this many seqs
# (counted in their index: ≈ 1 ms each).
ESTIMATE_ROWS = 20_000


class FileFilter:
    """A filter of the events in (after, upto] of a session file (the TUI's filter language): each of
    `words` as the start of a word of the names, params or page (FTS5), or anywhere in the event's
    JSON where the file has no full-text index; `any_of` column → values (platform, event, device,
    source, kind; one of the values each); `pixels` (any case); a finding of one of
    `finding_severities` / `finding_codes`; any finding.

    Asked as one compound of its conditions' seqs: the first (the words, else the column with the
    fewest matches among the newest rows), then each other condition's met (INTERSECT) or, for a
    column most rows pass, the rows it leaves out taken away (EXCEPT: kind:event purchase, the words'
    247,080 seqs but the 190,317 pixel_loaded ones), SQLite merging them in seq order: no event row
    read, no list of either made (schema 3: every column the filters name has an index holding the
    seq). The rows past the full-text index (the writer feeds it about every second) are read once,
    here (_read_words)."""

    def __init__(self, after: int, upto: int, first: list[_Part], met: list[_Part] = (),
                 taken_away: list[_Part] = (), left_out: list[_Part] | None = None, gapless: bool | None = None) -> None:
        self.after, self.upto = after, upto
        self.gapless = gapless  # (every seq of the range is a row: known by the caller; None: not known)
        self._first, self._met, self._taken_away = first, list(met), list(taken_away)
        self._left_out = left_out  # (one column most rows pass, alone: the rows it leaves out, to count)

    @classmethod
    def of(cls, db: sqlite3.Connection, *, after: int | None = None, upto: int | None = None,
           any_of: dict[str, set[str]] | None = None, pixels: set[str] | None = None,
           finding_severities: set[str] | None = None, finding_codes: set[str] | None = None,
           has_findings: bool = False, words: list[str] | tuple[str, ...] = (),
           gapless: bool | None = None) -> FileFilter:
        """(`gapless`: whether the file's seqs run without a gap, if the caller knows: rows_between.)"""
        upto = last_seq(db) if upto is None else upto  # (one range for every part: the writer goes on)
        after = first_seq(db) - 1 if after is None else after  # (a hostile file's may be 0 or less)
        indexed: list[_Indexed] = []
        for column, values in (any_of or {}).items():
            if column not in (*FILTER_COLUMNS, "source", "kind"):
                raise ValueError(f"no filter on {column}")
            indexed.append(_Indexed(f"events_{column}", f"{{t}}{column}", sorted(values)))
        if pixels is not None:
            indexed.append(_Indexed("events_pixel", "lower({t}pixel)", sorted({p.lower() for p in pixels})))
        if has_findings:  # every finding ranks ≥ 1 (info); decode errors come with a finding (checks/decode.py)
            indexed.append(_Indexed("events_severity", "{t}severity", sorted(set(SEVERITY_RANK.values()))))
        if any(not c.values for c in indexed) or any("\x00" in w for w in words):
            # (a key with no value left: device:NAME naming no device; no word of the index holds a NUL)
            return cls(after, upto, [_Part("SELECT seq FROM events WHERE 0", [])], gapless=gapless)
        met: list[_Part] = []
        if finding_severities is not None:
            args: list[object] = []
            met.append(_Part(f"SELECT seq FROM events WHERE {_severities(finding_severities, args)}", args))
        if finding_codes is not None:
            codes = sorted(finding_codes)
            met.append(_Part(_WITH_FINDING.format(f"findings.code IN ({','.join('?' * len(codes))})"), codes, "e.seq"))
        first = _words(db, list(words), after, upto) if words else []
        estimates = _has_filter_indexes(db)
        columns = sorted(((_recent_matches(db, c, after, upto) if estimates else 0, i, c) for i, c in enumerate(indexed)),
                         key=lambda m: m[:2])  # (the fewest first)
        if not first and len(columns) == 1 and not met and estimates and 2 * columns[0][0] > ESTIMATE_ROWS:
            c = columns[0][2]
            return cls(after, upto, [c.part(estimates)], left_out=c.outside(db), gapless=gapless)
        if not first and columns:
            first = [columns.pop(0)[2].part(estimates)]
        elif not first:
            first = [met.pop(0) if met else _Part("SELECT seq FROM events WHERE 1", [])]  # (no condition: every row)
        taken_away: list[_Part] = []
        for matches, _, c in columns:
            if estimates and 2 * matches > ESTIMATE_ROWS:  # most rows pass it
                taken_away += c.outside(db)
            else:
                met.append(c.part(estimates))
        return cls(after, upto, first, met, taken_away, gapless=gapless)

    def count(self, db: sqlite3.Connection, *, after: int | None = None, upto: int | None = None,
              stop: Callable[[], bool] | None = None) -> int:
        """How many of its rows there are in (after, upto] (within its own range): SQLite counts
        them, no seq handed to Python. One column most rows pass: the range's rows but those it
        leaves out (source:browser at a million events counts the few others, not the million)."""
        if self._left_out is not None:
            after, upto = self._within(after, upto)
            return rows_between(db, after, upto, stop, self.gapless) - sum(_one(db, f"SELECT count(*) FROM ({sql})", args, stop)
                                      for sql, args in (part.within(after, upto) for part in self._left_out))
        sql, args = self._compound(*self._within(after, upto))
        merged = " ORDER BY 1 LIMIT -1" if self._compounded() else ""  # (the merge; LIMIT: kept in a subquery)
        return _one(db, f"SELECT count(*) FROM ({sql}{merged})", args, stop)

    def seqs(self, db: sqlite3.Connection, *, after: int | None = None, upto: int | None = None, limit: int = -1,
             offset: int = 0, newest_first: bool = False, stop: Callable[[], bool] | None = None) -> array:
        """The seqs of its rows in (after, upto] (within its own range) `offset`… `offset + limit`
        (-1: all) counted from the oldest (`newest_first`: from the newest), ascending."""
        sql, args = self._compound(*self._within(after, upto))
        order = " DESC" if newest_first else ""
        return _seqs(db, f"{sql} ORDER BY 1{order} LIMIT ? OFFSET ?", [*args, limit, offset], newest_first, stop)

    def _within(self, after: int | None, upto: int | None) -> tuple[int, int]:
        after = self.after if after is None else max(after, self.after)
        return after, max(after, self.upto if upto is None else min(upto, self.upto))  # (empty, not negative)

    def _compounded(self) -> bool:
        return len(self._first) + len(self._met) + len(self._taken_away) > 1

    def _compound(self, after: int, upto: int) -> tuple[str, list]:
        sql: list[str] = []
        args: list = []
        for op, parts in (("UNION ALL", self._first), ("INTERSECT", self._met), ("EXCEPT", self._taken_away)):
            for part in parts:
                part_sql, part_args = part.within(after, upto)
                sql += [op, part_sql] if sql else [part_sql]
                args += part_args
        return " ".join(sql), args


def filter_seqs(db: sqlite3.Connection, *, after: int | None = None, upto: int | None = None,
                **conditions) -> array:
    """Every seq of a filter's rows in (after, upto], ascending (FileFilter's conditions)."""
    return FileFilter.of(db, after=after, upto=upto, **conditions).seqs(db)


def _words(db: sqlite3.Connection, words: list[str], after: int, upto: int) -> list[_Part]:
    """The parts of the seqs with each of `words`: the full-text index's, and those of the rows past
    it read (a list, few: about a second's worth); a scan of the events' JSON without one."""
    if not has_fts_table(db):
        return [_Part(f"SELECT seq FROM events WHERE {' AND '.join([_IN_JSON] * len(words))}", [_like(w) for w in words])]
    indexed = _Part("SELECT rowid AS seq FROM events_fts WHERE events_fts MATCH ?", [_match(words)], "rowid")
    if (end := _index_end(db, after, upto)) is None:
        return [indexed]
    indexed.sql += " AND rowid <= ?"
    indexed.args.append(end)
    past = ",".join(map(str, _read_words(db, words, max(after, end), upto)))
    return [indexed, _Part("SELECT value AS seq FROM json_each(?) WHERE 1", [f"[{past}]"], "value")]


def _match(words: list[str] | tuple[str, ...]) -> str:
    """FTS5's query: each word as the start of a word, all of them."""
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words)


def _index_end(db: sqlite3.Connection, after: int, upto: int) -> int | None:
    """Where the full-text index ends when (after, upto] has rows past it (the writer feeds it about
    every second: schema.words_upto); None: it holds them all."""
    if (end := words_upto(db)) is None:
        return None
    return end if upto > max(after, end) else None


# Rows past the full-text index read into the scratch index at a time: live, a second's worth; a
# file (hostile, or recorded by a writer that never fed) may say its index holds none of its rows.
READ_WORDS_ROWS = 5_000


def _read_words(db: sqlite3.Connection, words: list[str], after: int, upto: int) -> list[int]:
    """The seqs in (after, upto] with each of `words` as the start of a word, rows the file's
    full-text index does not hold: their words put in the same index made in memory (its tokenizer:
    the answer the file's index will give; a LIKE over the JSON would match more), READ_WORDS_ROWS
    at a time."""
    found: list[int] = []
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.execute(FTS_TABLE)
        low = after
        # (READ_WORDS_ROWS rows at a time, not seqs: a hostile file's seqs may jump by billions)
        while rows := db.execute("SELECT seq, json FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                                 (low, upto, READ_WORDS_ROWS)).fetchall():
            low = rows[-1][0]
            scratch.execute("INSERT INTO events_fts (events_fts) VALUES ('delete-all')")  # (contentless)
            scratch.executemany("INSERT INTO events_fts (rowid, name, params, page) VALUES (?, ?, ?, ?)",
                                ((seq, *row_words(text)) for seq, text in rows))
            found += [seq for (seq,) in scratch.execute("SELECT rowid FROM events_fts WHERE events_fts MATCH ? "
                                                        "ORDER BY rowid", (_match(words),))]
    finally:
        scratch.close()
    return found


def rows_between(db: sqlite3.Connection, after: int, upto: int, stop: Callable[[], bool] | None = None,
                 gapless: bool | None = None) -> int:
    """How many events (after, upto] holds: told by their seqs where the file's run without a gap
    (a file pixelspy wrote: 1, 2, 3…; `gapless`: told by the caller, else asked: reader.seq_run),
    else counted (a hostile or hand-edited file: rows deleted, seqs written by hand), through an
    index where there is one (65 ms at a million rows; the table itself: 580)."""
    if gapless:
        return upto - after
    if gapless is None and (run := seq_run(db)) is not None:
        return max(0, min(upto, run.stop - 1) - max(after, run.start - 1))
    by = " INDEXED BY events_kind" if _has_filter_indexes(db) else ""
    return _one(db, f"SELECT count(*) FROM events{by} WHERE seq > ? AND seq <= ?", [after, upto], stop)


def _has_filter_indexes(db: sqlite3.Connection) -> bool:
    """Whether the file has an index on every column the filters name (schema 3; a file of an older
    pixelspy opened to read has not: SQLite plans alone there)."""
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'events_kind'").fetchone()
    return found is not None


def _recent_matches(db: sqlite3.Connection, c: _Indexed, after: int, upto: int) -> int:
    """How many of the newest ESTIMATE_ROWS seqs of (after, upto] `c` matches (as many as a range
    of fewer holds, scaled), counted in its index. (SQLite, without statistics, takes any index to
    drive: driving `kind:event pixel:ID` by the kind index read 810,000 rows for 95,000.)"""
    low = max(after, upto - ESTIMATE_ROWS)
    sql = f"SELECT count(*) FROM events INDEXED BY {c.index} WHERE {c.on()} AND seq > ? AND seq <= ?"
    found = db.execute(sql, [*c.values, low, upto]).fetchone()[0]
    return found * ESTIMATE_ROWS // max(1, upto - low)


def _severities(severities: set[str], args: list[object]) -> str:
    """A finding of one of `severities`: an event whose worst finding is one of them has one (the
    events' severity index answers), one whose worst is worse may have (its findings looked up);
    22 ms for sev:warning at a million events, against 54 ms with every warning's event looked up
    by id and the seqs sorted after."""
    ranks = {SEVERITY_RANK[s] for s in severities if s in SEVERITY_RANK}
    worse = sorted({r for r in SEVERITY_RANK.values() if ranks and r > min(ranks)} - ranks)
    if not ranks:
        return "0"
    clause = f"severity IN ({','.join(map(str, sorted(ranks)))})"
    if worse:
        clause += (f" OR (severity IN ({','.join(map(str, worse))}) AND seq IN ("
                   + _WITH_FINDING.format(f"findings.severity IN ({','.join('?' * len(severities))})") + "))")
        args.extend(sorted(severities))
    return f"({clause})"


def scans_rows(db: sqlite3.Connection, words: list[str] | tuple[str, ...]) -> bool:
    """Whether a filter reads every event's JSON for these words (no full-text index): a caller
    then counts a range of seqs at a time."""
    return bool(words) and not has_fts_table(db)


def _one(db: sqlite3.Connection, sql: str, args: list[object], stop: Callable[[], bool] | None = None):
    """The one value `sql` selects; `stop()` true stops it where it is (Stopped)."""
    stopped = False

    def check() -> bool:
        nonlocal stopped
        stopped = stop()
        return stopped

    if stop is not None:
        db.set_progress_handler(check, STOP_CHECK_STEPS)
    try:
        return db.execute(sql, args).fetchone()[0]
    except sqlite3.OperationalError:
        if stopped:
            raise Stopped from None
        raise
    finally:
        if stop is not None:
            db.set_progress_handler(None, 0)


def _seqs(db: sqlite3.Connection, sql: str, args: list[object], descending: bool = False,
          stop: Callable[[], bool] | None = None) -> array:
    """The seqs `sql` selects, in its order (group_concat keeps the order of its FROM), ascending
    (`descending`: `sql` gives them so). One step of SQLite rather than one per row, each handing
    the GIL over, and no Python object per row (16 hex digits a seq, read as bytes: big-endian)."""
    text = _one(db, f"SELECT group_concat(printf('%016x', seq), '') FROM ({sql})", args, stop)
    seqs = array("q", bytes.fromhex(text or ""))
    if sys.byteorder == "little":
        seqs.byteswap()
    if descending:
        seqs.reverse()
    return seqs
