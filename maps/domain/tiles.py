"""Where map tiles come from (`MAP_TILES`), checked once, as plain data for the renderer.

- `none`: no tiles; the maps draw the town outlines and the markers on a blank background.
  Nothing is fetched from anywhere.
- `tianditu`: the national map service (vector map and Chinese labels), with a key. Its web
  tiles are in CGCS2000, which matches WGS-84 to well under a metre.
- a URL template with `{z}`, `{x}` and `{y}` (and optionally `{s}`), absolute (`https://…`)
  or a path on this host (`/tiles/{z}/{x}/{y}.png`). Say `datum="gcj02"` for a provider that
  draws in GCJ-02 (Amap/Gaode, Tencent); markers are then shifted to match.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DATUMS = ("wgs84", "gcj02")
TIANDITU_LAYER = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
)
TIANDITU_ATTRIBUTION = "© 天地图 Tianditu"


class TileConfigError(ValueError):
    """`MAP_TILES` and its companions do not describe a usable tile source."""


@dataclass(frozen=True)
class TileLayer:
    url: str
    attribution: str
    subdomains: str
    max_zoom: int


@dataclass(frozen=True)
class TileSource:
    """The tile layers to draw (none for a blank map) and the datum they are drawn in."""

    layers: tuple[TileLayer, ...]
    datum: str = "wgs84"

    @property
    def blank(self) -> bool:
        return not self.layers

    @property
    def hosts(self) -> frozenset[str]:
        """The other hosts a map page will load tiles from (empty for none or this host)."""
        found = set()
        for layer in self.layers:
            netloc = urlsplit(layer.url).netloc
            if netloc:
                for sub in layer.subdomains or "-":
                    found.add(netloc.replace("{s}", sub).lower())
        return frozenset(found)


def _check_template(url: str) -> None:
    missing = [part for part in ("{z}", "{x}") if part not in url]
    if "{y}" not in url and "{-y}" not in url:
        missing.append("{y}")
    if missing:
        raise TileConfigError(f"MAP_TILES: the URL template lacks {', '.join(missing)}")
    if url.startswith("//"):
        raise TileConfigError("MAP_TILES: give the scheme (https://) of another host's tiles")
    parts = urlsplit(url)
    if parts.scheme and parts.scheme not in ("http", "https"):
        raise TileConfigError(f"MAP_TILES: {parts.scheme}: is not http or https")
    if not parts.scheme and not url.startswith("/"):
        raise TileConfigError(
            "MAP_TILES: give none, tianditu, an http(s) URL template or a path on this host"
        )
    if parts.scheme and not parts.netloc:
        raise TileConfigError("MAP_TILES: the URL template has no host")


def tile_source(
    tiles: str,
    *,
    datum: str = "wgs84",
    attribution: str = "",
    subdomains: str = "abc",
    max_zoom: int = 18,
    tianditu_key: str = "",
) -> TileSource:
    """The tile source the settings describe, or `TileConfigError` saying what is wrong."""
    tiles = tiles.strip()
    if datum not in DATUMS:
        raise TileConfigError(f"MAP_TILES_DATUM: {datum!r} is not one of {', '.join(DATUMS)}")
    if not 1 <= max_zoom <= 22:
        raise TileConfigError("MAP_TILES_MAX_ZOOM: must be between 1 and 22")
    if tiles.lower() in ("", "none"):
        return TileSource(layers=())
    if tiles.lower() == "tianditu":
        key = tianditu_key.strip()
        if not key:
            raise TileConfigError("MAP_TILES=tianditu needs MAP_TIANDITU_KEY")
        if not (key.isascii() and key.isalnum()):
            raise TileConfigError("MAP_TIANDITU_KEY: a Tianditu key is letters and digits")
        if datum != "wgs84":
            raise TileConfigError("MAP_TILES=tianditu is drawn in WGS-84 (CGCS2000), not GCJ-02")
        layers = tuple(
            TileLayer(
                url=TIANDITU_LAYER.replace("{layer}", layer).replace("{key}", key),
                attribution=TIANDITU_ATTRIBUTION if layer == "vec" else "",
                subdomains="01234567",
                max_zoom=min(max_zoom, 18),
            )
            for layer in ("vec", "cva")
        )
        return TileSource(layers=layers, datum="wgs84")
    _check_template(tiles)
    if "{s}" in tiles and not subdomains:
        raise TileConfigError("MAP_TILES_SUBDOMAINS: the template has {s} but no subdomains")
    return TileSource(
        layers=(
            TileLayer(
                url=tiles,
                attribution=attribution,
                subdomains=subdomains if "{s}" in tiles else "",
                max_zoom=max_zoom,
            ),
        ),
        datum=datum,
    )
