"""`pixelspy audit`: a real browser visits a site through pixelspy's own proxy, once per consent state
(banner left alone, refused, accepted) and device, and every tracking hit is decoded and checked as the
live proxy would; each visit leaves a HAR as evidence.

command.py  the command line (registered in pixelspy.cli)
browser.py  finding and launching Chrome/Chromium so that pages see an ordinary browser
cmp.py      clicking the consent banner with DuckDuckGo's autoconsent rules
pages.py    which pages to visit: the start URL and same-site links, a URL list, a steps file
runner.py   one visit per consent state × device, each with its own proxy, session and HAR
stored.py   what the CMP stored after the click (cookies, TCF, GPP), read back from the browser

The report is pixelspy.report's (render_audit, audit_exit_code).

Playwright and autoconsent are the optional extra `pixelspy[audit]`: only runner.py and browser.py
import Playwright, when an audit runs.
"""
