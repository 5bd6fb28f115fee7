"""Benchmark of the command map with 10,000 open cases, beside plain folium in the same run.

The data: the demo district's reference data and map data, then 10,000 open cases
(dispatched or accepted, one in ten with a missed deadline) spread over the demo towns,
most with their own position, one in twenty without (drawn at its town's centre), and three
open mass incidents.

1. The hub's way: `/maps/` (rendered through Django's test Client, logged in as `command`)
   is a small page whose script fetches the GeoJSON feeds (`/api/v1/map/...`) and fills the
   layers in the browser. Measured: the page's time and bytes (with the map's own script
   when the page loads it from a URL of its own rather than inline), `build_map` alone, and
   the cases feed's time and bytes, raw and gzip'd (`Accept-Encoding: gzip`, the feed's own
   `gzip_page`). The total is page + cases feed, and page + every feed the page may fetch
   (the heat feed too, which holds the same cases again; the page fetches it only when the
   heat layer is shown).
2. The baseline: the same map in plain folium (centred on the district, the same town
   outlines as a `folium.GeoJson`, a `MarkerCluster`), with one `folium.Marker` per case and a
   popup with its number, state, overdue mark, workers, amount and date (what the hub's
   popups show), from the same 10,000 cases read with the ORM (the feed's query). Time:
   query + build + `get_root().render()`; size: the HTML, and its gzip (level 6, as
   Django's) for a fair comparison. The default marker icon, not the hub's coloured ones;
   no tiles, as the hub's default (MAP_TILES=none), so the map is given its zoom range.
3. If Chromium (/usr/bin/chromium) and Playwright are there: the time in a real browser from
   navigation to all 10,000 markers in the cluster's tree, for both pages. The hub page, its
   script and feeds are answered (`page.route`) with the test Client's responses made
   beforehand, so no server time is included; the static files come from the disk. The
   folium HTML is a file with its asset links pointing at the vendored copies under
   `static/vendor` (jQuery, which its popups need, from Django's admin; its Bootstrap and
   icon-font links dropped). No request reaches the network. Skipped, with the reason
   printed, when it cannot run.

Each figure is the best of a few runs; ratios are hub / folium (below 1: the hub is
smaller or faster). Static assets (Leaflet, the cluster plugin, map.js, CSS) are left out of
the byte counts on both sides.

Run: `make bench` (or `.venv/bin/python tests/bench/bench_maps.py`). Uses a fresh SQLite
file in a temporary folder unless DATABASE_URL is set (then that database is used for a
throwaway test database named by Django's test runner). Exits non-zero on an error, such as
a feed that does not hold all 10,000 cases.
"""

from __future__ import annotations

import gzip
import json
import mimetypes
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from html import escape, unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_center.settings")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="hub-bench-"))
os.environ["EMBEDDED_SWEEP"] = "false"

import django  # noqa: E402

django.setup()

import folium  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.contrib.staticfiles import finders  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402
from folium.plugins import MarkerCluster  # noqa: E402

from incidents import demo  # noqa: E402
from incidents.models import STATE_CHOICES, Case, Clock, Enterprise, Incident, Unit  # noqa: E402
from incidents.policy import actor_for  # noqa: E402
from incidents.selectors import overdue_exists  # noqa: E402
from incidents.services import local_tz  # noqa: E402
from maps import pages, rendering  # noqa: E402
from maps.demo import load_map_reference  # noqa: E402
from maps.selectors import OPEN_STATE_VALUES  # noqa: E402
from tests.bench import table  # noqa: E402
from tests.factories import credit_code  # noqa: E402

CASES = 500 if os.environ.get("BENCH_QUICK") == "1" else 10_000
REPEAT = 3
SPREAD = 0.03  # degrees around a town's centre
GZIP_LEVEL = 6  # django.utils.text.compress_string's
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_REPEAT = 2
BROWSER_TIMEOUT_MS = 30_000
# Never reached: every request is answered by page.route, and no host name resolves.
HUB_ORIGIN = "http://hub.invalid"
NO_DNS = "--host-resolver-rules=MAP * ~NOTFOUND"
VENDOR = ROOT / "static" / "vendor"

Row = tuple[str, str, str, str]


def fill_cases(district_id: int, n: int) -> None:
    """N open cases over the demo towns; one in ten overdue, one in twenty without a position."""
    rng = random.Random(20_240_501)
    now = timezone.now()
    towns = {u.code: u for u in Unit.objects.filter(district_id=district_id, kind="territorial")}
    units = list(Unit.objects.filter(district_id=district_id, kind="bureau"))
    employers = Enterprise.objects.bulk_create(
        Enterprise(district_id=district_id, credit_code=credit_code(900_000 + i), name=f"企业{i}")
        for i in range(200)
    )
    cases = []
    for i in range(n):
        code, _zh, _en, lat, lng = demo.TOWNS[i % len(demo.TOWNS)]
        placed = i % 20 != 0
        cases.append(
            Case(
                district_id=district_id,
                number=f"NX-BENCH-{i:06d}",
                state="dispatched" if i % 3 else "accepted",
                channel="window",
                received_at=now - timedelta(minutes=rng.randrange(60 * 24 * 60)),
                employer=employers[i % len(employers)],
                town=towns[code],
                lat=round(lat + rng.uniform(-SPREAD, SPREAD), 6) if placed else None,
                lng=round(lng + rng.uniform(-SPREAD, SPREAD), 6) if placed else None,
                responsible_unit=units[i % len(units)],
                workers_count=rng.randint(1, 60),
                amount_owed=Decimal(rng.randrange(2_000_00, 900_000_00)) / 100,
            )
        )
    Case.objects.bulk_create(cases, batch_size=2000)
    rows = Case.objects.filter(number__startswith="NX-BENCH-").values_list("pk", "state")
    clocks = [
        Clock(
            case_id=pk,
            kind="dispatch" if state == "dispatched" else "commitment",
            status="running",
            started_at=now - timedelta(days=3),
            due_at=now - timedelta(hours=6) if i % 10 == 0 else now + timedelta(days=2),
        )
        for i, (pk, state) in enumerate(rows)
    ]
    Clock.objects.bulk_create(clocks, batch_size=2000)


def add_incidents(district_id: int, reporter: User) -> None:
    for i, (code, _zh, _en, lat, lng) in enumerate(demo.TOWNS[:3]):
        Incident.objects.create(
            district_id=district_id,
            title=f"工地聚集 {i + 1}",
            town=Unit.objects.get(district_id=district_id, code=code),
            lat=lat + 0.004,
            lng=lng - 0.004,
            people_count=20 + 40 * i,
            kind="site_gathering",
            level=("IV", "III", "II")[i],
            status="active" if i else "reported",
            reported_by=reporter,
        )


def best(fn: Callable[[], Any], repeat: int = REPEAT) -> tuple[float, Any]:
    """The shortest of `repeat` runs of `fn` (seconds), and that run's result."""
    fastest, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - t0
        if seconds < fastest:
            fastest, result = seconds, out
    return fastest, result


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=GZIP_LEVEL))


def kb(n: float) -> str:
    return f"{n / 1024:,.1f} KB"


def ms(s: float) -> str:
    return f"{s * 1000:,.0f} ms"


def get(client: Client, url: str, repeat: int = REPEAT, **headers: str) -> tuple[float, bytes, str]:
    """(best time, body, Content-Encoding) of GET `url`; an error status is an error."""

    def once() -> Any:
        response = client.get(url, **headers)  # type: ignore[arg-type]
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code}")
        return response

    seconds, response = best(once, repeat)
    return seconds, response.content, response.get("Content-Encoding", "")


# --- the baseline: plain folium -----------------------------------------------------------


def folium_page(district_id: int, towns: dict[str, Any], centre: tuple[float, float]) -> Any:
    """Query, build and render the plain-folium map; returns (html, markers, phase times)."""
    t0 = time.perf_counter()
    rows = list(
        Case.objects.filter(district_id=district_id, state__in=OPEN_STATE_VALUES)
        .annotate(overdue=overdue_exists(timezone.now()))
        .order_by("-received_at", "-id")
        .values(
            "number",
            "state",
            "lat",
            "lng",
            "town__lat",
            "town__lng",
            "workers_count",
            "amount_owed",
            "received_at",
            "overdue",
        )
    )
    t1 = time.perf_counter()
    states = {str(k): str(v) for k, v in STATE_CHOICES}
    tz = local_tz()
    m = folium.Map(location=list(centre), zoom_start=rendering.DISTRICT_ZOOM, tiles=None)
    # Without a tile layer Leaflet has no zoom range, and the marker cluster refuses to work.
    m.options["max_zoom"] = 18
    folium.GeoJson(
        towns,
        name="Town outlines",
        style_function=lambda _f: {
            "color": "#4a5568",
            "weight": 1.5,
            "fillColor": "#edf2f7",
            "fillOpacity": 0.35,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
    ).add_to(m)
    cluster = MarkerCluster(name="Open cases").add_to(m)
    markers = 0
    for row in rows:
        approx = row["lat"] is None or row["lng"] is None
        lat, lng = (row["town__lat"], row["town__lng"]) if approx else (row["lat"], row["lng"])
        overdue = "<div><b>overdue</b></div>" if row["overdue"] else ""
        html = (
            f"<a href='/cases/{escape(row['number'])}/'>{escape(row['number'])}</a>"
            f"<div>{escape(states.get(row['state'], row['state']))}</div>{overdue}"
            f"<div>workers {row['workers_count']}</div>"
            f"<div>yuan owed {row['amount_owed']:.2f}</div>"
            f"<div>received {row['received_at'].astimezone(tz).date().isoformat()}</div>"
        )
        folium.Marker([lat, lng], popup=folium.Popup(html, max_width=260)).add_to(cluster)
        markers += 1
    folium.LayerControl().add_to(m)
    t2 = time.perf_counter()
    page = m.get_root().render()
    t3 = time.perf_counter()
    return page, markers, (t1 - t0, t2 - t1, t3 - t2)


# --- the browser (optional) ---------------------------------------------------------------

# The markers in the cluster's tree (not those still queued): performance.now() once all are.
CLUSTER_COUNT = """(n) => {
  let cluster = null;
  if (window.hubMaps && window.hubMaps.length) cluster = window.hubMaps[0].layers.cases;
  else {
    const key = Object.keys(window).find((k) => k.startsWith("marker_cluster_"));
    cluster = key ? window[key] : null;
  }
  const top = cluster && cluster._map && cluster._topClusterLevel;
  return top && top.getChildCount() >= n ? performance.now() : false;
}"""


def folium_file(html: str, folder: Path) -> Path:
    """The folium page with its CDN links pointing at the vendored files (others dropped)."""
    jquery = Path(django.__file__).parent / "contrib/admin/static/admin/js/vendor/jquery"
    local = {
        "leaflet.js": VENDOR / "leaflet/leaflet.js",
        "leaflet.css": VENDOR / "leaflet/leaflet.css",
        "leaflet.markercluster.js": VENDOR / "leaflet.markercluster/leaflet.markercluster.js",
        "MarkerCluster.css": VENDOR / "leaflet.markercluster/MarkerCluster.css",
        "MarkerCluster.Default.css": VENDOR / "leaflet.markercluster/MarkerCluster.Default.css",
        "jquery-3.7.1.min.js": jquery / "jquery.min.js",
    }
    lines = []
    for line in html.splitlines():
        link = re.search(r'<(?:script src|link rel="stylesheet" href)="(https://[^"]+)"', line)
        if link:
            name = link[1].rsplit("/", 1)[-1]
            if name not in local:
                continue  # bootstrap, awesome-markers, font-awesome: unused by plain markers
            line = line.replace(link[1], local[name].as_uri())
        lines.append(line)
    path = folder / "folium.html"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def page_scripts(page: bytes) -> list[str]:
    """The page's own scripts that are not static files (the map's, when it is apart)."""
    found = re.findall(r'<script[^>]*\ssrc="([^"]+)"', page.decode())
    static = settings.STATIC_URL
    return [unescape(u) for u in found if u.startswith("/") and not u.startswith(static)]


def hub_responses(client: Client, spec: rendering.MapSpec) -> dict[str, tuple[str, bytes]]:
    """The page, its own scripts and its feeds as the test Client answers them, keyed by
    path and query."""
    page = client.get("/maps/").content
    out = {}
    for url in ["/maps/", *page_scripts(page), *spec.feeds.values()]:
        response = client.get(url)
        out[url] = (response["Content-Type"], response.content)
    return out


def static_file(path: str) -> tuple[str, bytes] | None:
    found = finders.find(path.removeprefix(settings.STATIC_URL))
    if not found:
        return None
    kind = mimetypes.guess_type(found)[0] or "application/octet-stream"
    if kind in ("text/javascript", "application/javascript"):
        kind = "text/javascript; charset=utf-8"
    return kind, Path(found).read_bytes()


def bench_browser(hub: dict[str, tuple[str, bytes]], folium_html: str, rows: list[Row]) -> str:
    """Navigation to all markers, hub vs folium; returns why it was skipped, or ''."""
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM}"
    try:
        from playwright.sync_api import Error, Route, sync_playwright

        from tests.e2e.conftest import CHROMIUM_ARGS
    except ImportError as exc:
        return f"cannot import Playwright ({exc})"

    # Playwright's handlers run in its event loop, where Django refuses database queries:
    # the page and its feeds are answered from the responses made beforehand.
    def answer(route: Route) -> None:
        url = urlsplit(route.request.url)
        key = url.path + (f"?{url.query}" if url.query else "")
        if f"{url.scheme}://{url.netloc}" != HUB_ORIGIN:
            route.abort()
            return
        found = hub.get(key) or (
            static_file(url.path) if url.path.startswith(settings.STATIC_URL) else None
        )
        if found is None:
            route.fulfill(status=404, body=b"")
            return
        route.fulfill(status=200, headers={"content-type": found[0]}, body=found[1])

    def no_network(route: Route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            route.abort()

    folder = Path(tempfile.mkdtemp(prefix="hub-bench-maps-"))
    folium_url = folium_file(folium_html, folder).as_uri()
    hub_ms: list[float] = []
    folium_ms: list[float] = []
    errors: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, NO_DNS], headless=True
            )
            try:
                for _ in range(BROWSER_REPEAT):
                    for url, handler, out in (
                        (f"{HUB_ORIGIN}/maps/", answer, hub_ms),
                        (folium_url, no_network, folium_ms),
                    ):
                        context = browser.new_context(viewport={"width": 1280, "height": 900})
                        try:
                            context.route("**/*", handler)
                            page = context.new_page()
                            page.on("pageerror", lambda e, at=url: errors.append(f"{at}: {e}"))
                            page.goto(url, wait_until="commit", timeout=BROWSER_TIMEOUT_MS)
                            done = page.wait_for_function(
                                CLUSTER_COUNT, arg=CASES, polling=50, timeout=BROWSER_TIMEOUT_MS
                            )
                            out.append(float(done.json_value()))
                        finally:
                            context.close()
            finally:
                browser.close()
    except Error as exc:
        return f"the browser failed: {str(exc).splitlines()[0]}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if errors:
        return f"a script error on the page, {errors[0]}"
    hub_best, base = min(hub_ms), min(folium_ms)
    rows.append(
        (
            f"browser (Chromium): navigation to all {CASES:,} markers in the cluster",
            f"{hub_best:,.0f} ms (page, then its feeds; server time not included)",
            f"{base:,.0f} ms (folium HTML from a file)",
            f"{hub_best / base:.2f}x",
        )
    )
    return ""


# --- the hub -------------------------------------------------------------------------------


def bench_maps(district_id: int, rows: list[Row]) -> tuple[dict[str, tuple[str, bytes]], str]:
    user = User.objects.get(username="command")
    actor = actor_for(user)
    client = Client()
    client.force_login(user)

    build_s, parts = best(lambda: rendering.build_map(pages.command_map_spec(actor, {})))
    parts_bytes = sum(len(str(p).encode()) for p in (parts.header, parts.html, parts.script))
    # The page, and the map's script when it is served apart from it (not a static file).
    page_s, page, _e = get(client, "/maps/")
    page_parts = [page]
    for url in page_scripts(page):
        seconds, script, _e = get(client, url)
        page_s += seconds
        page_parts.append(script)
    page_raw = sum(len(part) for part in page_parts)
    page_gz = sum(gz(part) for part in page_parts)
    feed_s, feed_raw, _e = get(client, "/api/v1/map/cases")
    # The feed must hold every case, placed (own position or its town's centre).
    feed = json.loads(feed_raw)
    if feed["count"] != CASES or len(feed["features"]) != CASES or feed["unplaced"]:
        raise SystemExit(
            f"error: the cases feed holds {feed['count']} features "
            f"({len(feed['features'])} listed, {feed['unplaced']} unplaced), not {CASES:,}"
        )
    feed_gz_s, feed_gz, encoding = get(client, "/api/v1/map/cases", HTTP_ACCEPT_ENCODING="gzip")
    if encoding != "gzip":
        raise SystemExit(f"error: the cases feed answered {encoding!r} to Accept-Encoding: gzip")
    # Every other feed the page's script fetches (heat, incidents, windows, projects, places).
    spec = pages.command_map_spec(actor, {})
    other_raw = other_gz = 0
    other_s = 0.0
    for kind, url in spec.feeds.items():
        if kind == "cases":
            continue
        _s, raw, _e = get(client, url, 1)
        seconds, zipped, _e = get(client, url, HTTP_ACCEPT_ENCODING="gzip")
        other_raw += len(raw)
        other_gz += len(zipped)
        other_s += seconds

    base_s, (html, markers, phases) = best(
        lambda: folium_page(district_id, spec.towns or {}, spec.centre)
    )
    if markers != CASES:
        raise SystemExit(f"error: the folium map has {markers} markers, not {CASES:,}")
    base = html.encode()
    base_gz = gz(base)
    total_raw = page_raw + len(feed_raw)
    total_gz = page_gz + len(feed_gz)
    every_gz = total_gz + other_gz
    query_s, build_folium_s, render_s = phases
    folium_figure = (
        f"{ms(base_s)} (query {ms(query_s)}, build {ms(build_folium_s)}, render {ms(render_s)})"
    )
    rows += [
        (
            "features in the cases feed",
            f"{feed['count']:,} (all placed)",
            f"{markers:,} folium.Marker",
            "-",
        ),
        (
            "size raw: /maps/ page + cases feed",
            f"{kb(page_raw)} + {kb(len(feed_raw))} = {kb(total_raw)}",
            f"{kb(len(base))} HTML",
            f"{total_raw / len(base):.2f}x",
        ),
        (
            "size gzip: /maps/ page + cases feed",
            f"{kb(page_gz)} + {kb(len(feed_gz))} = {kb(total_gz)}",
            f"{kb(base_gz)} HTML",
            f"{total_gz / base_gz:.2f}x",
        ),
        (
            "size gzip: page + every feed it may fetch (+ heat when shown, incidents, ...)",
            f"{kb(total_gz)} + {kb(other_gz)} = {kb(every_gz)} (raw {kb(total_raw + other_raw)})",
            f"{kb(base_gz)} HTML",
            f"{every_gz / base_gz:.2f}x",
        ),
        (
            "server time: /maps/ page + cases feed (gzip)",
            f"{ms(page_s)} + {ms(feed_gz_s)} = {ms(page_s + feed_gz_s)} (feed raw {ms(feed_s)})",
            folium_figure,
            f"{(page_s + feed_gz_s) / base_s:.2f}x",
        ),
        (
            "server time: page + every feed it may fetch (gzip)",
            f"{ms(page_s + feed_gz_s)} + {ms(other_s)} = {ms(page_s + feed_gz_s + other_s)}",
            f"{ms(base_s)}",
            f"{(page_s + feed_gz_s + other_s) / base_s:.2f}x",
        ),
        (
            "build_map(command_map_spec) alone: time, header+html+script",
            f"{ms(build_s)}, {kb(parts_bytes)}",
            f"{ms(build_folium_s + render_s)}, {kb(len(base))} (build + render)",
            f"{build_s / (build_folium_s + render_s):.3f}x",
        ),
    ]
    return hub_responses(client, spec), html


def main() -> None:
    setup_test_environment()
    from django.test.utils import get_runner

    runner = get_runner(django.conf.settings)(verbosity=0, interactive=False)
    old = runner.setup_databases()
    try:
        district = demo.load_reference()
        load_map_reference(district)
        fill_cases(district.pk, CASES)
        add_incidents(district.pk, User.objects.get(username="command"))
        rows: list[Row] = []
        hub, folium_html = bench_maps(district.pk, rows)
        skipped = bench_browser(hub, folium_html, rows)
        print(f"\n### Command map, {CASES:,} open cases ({connection.vendor}, best of {REPEAT})\n")
        print("| benchmark | hub | plain folium (same run) | ratio hub/folium |")
        print("|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
            table.record("maps", *row)
        if skipped:
            print(f"\nbrowser: skipped ({skipped})")
    finally:
        runner.teardown_databases(old)


if __name__ == "__main__":
    main()
