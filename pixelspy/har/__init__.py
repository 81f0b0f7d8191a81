"""HAR files, and mitmproxy flow files: pixelspy's files layer.

    format.py   what both sides agree on: custom fields (`_pixelspy`, MARKS_KEY), notes, limits
    redact.py   what is hidden in what pixelspy shows and writes (one place for redaction rules)
    render.py   a RawHit, its events and (live) its mitmproxy flow → one HAR entry
    write.py    save_har (Ctrl+S) and the recorders: in memory (HarRecorder: --no-session, the audit),
                into the session file (StoreRecorder: --har-all)
    walk.py     the JSON of a HAR walked with ijson, one entry at a time, tolerant of broken entries
    fast.py     runs of well-formed entries decoded the quick way (Python's C decoder), for walk.py
    diagnose.py where and why the JSON is broken ("not valid JSON at byte 21: …")
    json_text.py  the text as bytes where ijson cannot help: cut between tokens, broken values skipped
    entries.py  a HAR entry → RawHit (lenient: every browser and proxy leaves out other fields)
    read.py     opening a file (HAR, .har.gz, .zhar, mitmproxy flows) into RawHits or a session

Nothing here imports the proxy addon: a live flow and a flow file are read by pixelspy/flows.py.
"""

from pixelspy.har.format import MARKS_KEY, HarReadError
from pixelspy.har.read import FileReader, LoadResult, Progress, iter_har_hits, load_file, load_file_async
from pixelspy.har.redact import MAX_REDACTED_BODY
from pixelspy.har.render import MAX_RESPONSE_TEXT, flow_entry, render_entry
from pixelspy.har.write import HarRecorder, har_head, save_har, start_har_file, trailer

__all__ = ["MARKS_KEY", "MAX_REDACTED_BODY", "MAX_RESPONSE_TEXT", "FileReader", "HarReadError", "HarRecorder",
           "LoadResult", "Progress", "flow_entry", "iter_har_hits", "load_file", "load_file_async",
           "har_head", "render_entry", "save_har", "start_har_file", "trailer"]
