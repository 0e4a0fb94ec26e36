"""Shop search speed: the directory's precomputed pinyin index against converting names on every query.

Prints a table and ends with `RESULT {json}` (queries/s and the ratio to the naive baseline, same run).
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pypinyin import Style, lazy_pinyin  # noqa: E402

from kiosk.content import MallContent, load_content  # noqa: E402
from kiosk.services.directory import Directory  # noqa: E402

QUERIES = ["xbk", "星巴", "star", "uniqlo", "hdl", "4F-04", "mcd", "qcs", "xiaomi", "lego", "zz"]


def naive(content: MallContent, query: str) -> list[str]:
    q = query.lower()
    out = []
    for shop in content.shops:
        initials = "".join(p[0] for p in lazy_pinyin(shop.zh, style=Style.FIRST_LETTER))
        full = "".join(lazy_pinyin(shop.zh))
        if q in shop.zh or q in initials.lower() or q in full or q in shop.en.lower() or q in shop.unit.lower():
            out.append(shop.unit)
    return out


def rate(fn: Callable[[str], object], seconds: float = 1.0) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for q in QUERIES:
            fn(q)
        n += len(QUERIES)
    return n / (time.perf_counter() - start)


def main() -> None:
    content = load_content()
    directory = Directory(content)
    assert directory.search("xbk")[0].shop.zh == "星巴克" and "1F-01" in naive(content, "xbk")
    indexed = rate(lambda q: directory.search(q))
    baseline = rate(lambda q: naive(content, q))
    print(f"{'method':<28}{'queries/s':>12}")
    print(f"{'directory (pinyin index)':<28}{indexed:>12.0f}")
    print(f"{'naive (pinyin per query)':<28}{baseline:>12.0f}")
    print("RESULT " + json.dumps({"shops": len(content.shops), "indexed_qps": round(indexed),
                                  "naive_qps": round(baseline), "ratio": round(indexed / baseline, 1)}))


if __name__ == "__main__":
    main()
