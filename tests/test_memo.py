"""pixelspy.memo: lru_cache's results for functions called on every hit, in a table the collector
keeps tracked (so a full collection does not untrack it for the next new key to track it again as
a young object, walked by the young and middle collections with all its entries)."""

from __future__ import annotations

import gc

from pixelspy.checks.params import json_is
from pixelspy.consent.sites import page_site
from pixelspy.memo import memo


def table_of(memoised) -> dict:
    [table] = [c.cell_contents for c in memoised.__closure__ if type(c.cell_contents) is dict]
    return table


def test_results_are_the_function_s_computed_once_per_arguments():
    calls = []

    @memo(maxsize=8)
    def site(page: str, referer: str) -> str:
        calls.append((page, referer))
        return (page or referer).split("/")[2]

    assert site("https://a.example/x", "") == "a.example"
    assert site("", "https://b.example/") == "b.example"
    assert site("https://a.example/x", "") == "a.example"
    assert calls == [("https://a.example/x", ""), ("", "https://b.example/")]


def test_the_table_is_bounded_and_emptied_when_full():
    calls = []

    @memo(maxsize=4)
    def double(n: int) -> int:
        calls.append(n)
        return 2 * n

    assert [double(n) for n in range(10)] == [2 * n for n in range(10)]
    assert len(table_of(double)) <= 4 + 1  # and the key that keeps it tracked
    double(0)
    assert calls == [*range(10), 0]  # emptied since: computed again


def test_the_collector_keeps_the_tables_tracked_across_full_collections():
    page = "https://shop.example/product/sku-1?utm_content=view-1"
    for fn, args in ((page_site, (page, "")), (json_is, ("array", '["sku-1"]'))):
        fn(*args)
        gc.collect()  # what lru_cache's table lost here, with keys and entries it does not track
        assert gc.is_tracked(table_of(fn))
        assert fn(*args) == fn.__wrapped__(*args)
    assert page_site(page, "") == "shop.example"
