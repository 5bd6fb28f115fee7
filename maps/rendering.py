"""Maps built with folium: the only module that imports it.

folium writes the Leaflet page: the map, its tile layers, the overlay groups, the marker
cluster, the heat layer, the town outlines and the layer control. Its default asset links
point at public CDNs; `HubMap`, `CaseCluster` and `CaseHeat` replace them with the hub's
vendored copies (see `static/vendor/README.md`), so a map page loads nothing from another
host but the configured tile server.

The data-heavy layers are not written into the page as one folium object per marker: a
`HubLayers` element hands the layer objects and the feed URLs to `static/js/map.js`, which
fills them from the GeoJSON feeds (`maps.api`) and keeps them live from the event stream.
With ten thousand open cases the page stays small and the server builds it in the time
of a handful of markers; the browser still has to draw the cases, which takes about as long
as folium's own markers. `tests/bench/bench_maps.py` measures both against plain folium.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import folium
from branca.element import Figure, MacroElement
from django.conf import settings
from django.templatetags.static import static
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from folium.plugins import HeatMap, MarkerCluster
from folium.template import Template

from maps.domain import styles
from maps.domain.tiles import TileSource, tile_source

DISTRICT_ZOOM = 11
SITE_ZOOM = 13


def current_tiles() -> TileSource:
    """The tile source of the settings (checked at start-up by `command_center.checks`)."""
    return tile_source(
        settings.MAP_TILES,
        datum=settings.MAP_TILES_DATUM,
        attribution=settings.MAP_TILES_ATTRIBUTION,
        subdomains=settings.MAP_TILES_SUBDOMAINS,
        max_zoom=settings.MAP_TILES_MAX_ZOOM,
        tianditu_key=settings.MAP_TIANDITU_KEY,
    )


class HubMap(folium.Map):
    """folium's map with Leaflet from the hub's static files, without full-window styles on
    `html` and `body`, and without an outside link in its attribution.

    Its height is set by its script through the CSSOM, not by a `<style>` in the page as
    folium does, so that the pages need no `'unsafe-inline'` styles (see `command_center.csp`).
    """

    _template = Template(
        """
        {% macro html(this, kwargs) %}
            <div class="folium-map hub-map {{ this.css_class }}" id={{ this.get_name()|tojson }}
                 data-map={{ this.purpose|tojson }}></div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            document.getElementById({{ this.get_name()|tojson }}).style.height =
                {{ this.css_height|tojson }};
            var {{ this.get_name() }} = L.map(
                {{ this.get_name()|tojson }},
                {
                    center: {{ this.location|tojson }},
                    crs: L.CRS.{{ this.crs }},
                    ...{{ this.options|tojavascript }}
                }
            );
            {{ this.get_name() }}.attributionControl.setPrefix("Leaflet");
            L.control.scale({imperial: false}).addTo({{ this.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, *, purpose: str, css_height: str, css_class: str = "", **kwargs: Any):
        self.default_js = [("leaflet", static("vendor/leaflet/leaflet.js"))]
        self.default_css = [("leaflet_css", static("vendor/leaflet/leaflet.css"))]
        max_zoom = kwargs.pop("max_zoom", 19)
        super().__init__(tiles=None, **kwargs)
        # Leaflet needs the map's own zoom range when there is no tile layer to give one
        # (the marker cluster refuses to work without it).
        self.options["max_zoom"] = max_zoom
        self.options["min_zoom"] = 3
        self.purpose = purpose
        self.css_height = css_height
        self.css_class = css_class


class CaseCluster(MarkerCluster):
    """leaflet.markercluster from the hub's static files."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.default_js = [
            ("markerclusterjs", static("vendor/leaflet.markercluster/leaflet.markercluster.js"))
        ]
        self.default_css = [
            ("markerclustercss", static("vendor/leaflet.markercluster/MarkerCluster.css")),
            (
                "markerclusterdefaultcss",
                static("vendor/leaflet.markercluster/MarkerCluster.Default.css"),
            ),
        ]


class CaseHeat(HeatMap):
    """Leaflet.heat from the hub's static files; its points come from the heat feed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__([], **kwargs)
        self.default_js = [("leaflet-heat.js", static("vendor/leaflet.heat/leaflet-heat.js"))]


class HubLayers(MacroElement):
    """Hands the map, its layer objects and its configuration to `static/js/map.js`.

    The page's script runs before the deferred module, so the hand-over goes through a
    queue the module empties when it loads.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            (window.hubMapQueue = window.hubMapQueue || []).push({
                map: {{ this._parent.get_name() }},
                layers: {
                {%- for key, layer in this.layers.items() %}
                    {{ key|tojson }}: {{ layer.get_name() }},
                {%- endfor %}
                },
                config: {{ this.config|tojson }}
            });
        {% endmacro %}
        """
    )

    def __init__(self, layers: dict[str, Any], config: dict[str, Any]) -> None:
        super().__init__()
        self._name = "HubLayers"
        self.layers = layers
        self.config = config


@dataclass(frozen=True)
class RenderedMap:
    """The parts of a folium map for a Django page: what goes in `<head>` (links to its
    scripts and stylesheets, nothing inline), the map's element, and its script.

    The script is not written into the page: it is served from `script_url`, which builds
    the same map again (element names are deterministic, see `_name_elements`), so that
    no code runs inline and a Content Security Policy without 'unsafe-inline' holds.
    """

    header: SafeString
    html: SafeString
    script: str
    script_url: str = ""


def _name_elements(root: Any, prefix: str) -> None:
    """Give every element of the map a name that is the same each time the same map is
    built (folium draws random ones), so the page and its script agree."""
    counter = 0

    def walk(element: Any) -> None:
        nonlocal counter
        element._id = f"{prefix}{counter}"
        counter += 1
        for child in element._children.values():
            walk(child)

    walk(root)


def render_parts(m: folium.Map, *, prefix: str, script_url: str) -> RenderedMap:
    root = m.get_root()
    assert isinstance(root, Figure)  # noqa: S101  (folium.Map always sits in a Figure)
    _name_elements(root, prefix)
    root.render()
    # folium styles its GeoJSON tooltips with a <style> in the head; `static/css/hub.css`
    # has the same rules, so that the page holds no inline style.
    for name in [name for name in root.header._children if name.endswith("tablestyle")]:
        del root.header._children[name]
    return RenderedMap(
        header=mark_safe(root.header.render()),  # noqa: S308  (folium escapes its data)
        html=mark_safe(root.html.render()),  # noqa: S308
        script=root.script.render(),
        script_url=script_url,
    )


def _add_tiles(m: folium.Map, tiles: TileSource) -> None:
    for i, layer in enumerate(tiles.layers):
        options: dict[str, Any] = {"max_zoom": layer.max_zoom}
        if layer.subdomains:
            options["subdomains"] = layer.subdomains
        folium.TileLayer(
            tiles=layer.url,
            attr=layer.attribution or " ",
            name=_("Base map") if i == 0 else _("Labels"),
            overlay=i > 0,
            control=False,
            **options,
        ).add_to(m)


def _labels() -> dict[str, Any]:
    from incidents.models import KIND_LABELS, STATE_CHOICES, STATUS_LABELS
    from maps.models import Place

    return {
        "states": {str(k): str(v) for k, v in STATE_CHOICES},
        "statuses": {k.value: str(v) for k, v in STATUS_LABELS.items()},
        "kinds": {k.value: str(v) for k, v in KIND_LABELS.items()},
        "places": {k: str(v) for k, v in Place.Kind.choices},
        "overdue": _("overdue"),
        "approx": _("placed at its town's centre"),
        "workers": _("workers"),
        "people": _("people"),
        "amount": _("yuan owed"),
        "received": _("received"),
        "open_cases": _("open cases"),
        "score": _("risk score"),
        "warning_levels": {"yellow": _("yellow"), "orange": _("orange"), "red": _("red")},
        "level": _("level"),
        "distance": _("m away"),
        "open": _("Open"),
        "loading": _("loading…"),
        "failed": _("The map could not load this layer; retrying."),
        "picked": _("Position set from the map."),
        "site": _("incident site"),
    }


@dataclass(frozen=True)
class MapSpec:
    """What one map shows: which layers, from which feeds, centred where."""

    purpose: str  # command, dashboard, incident, picker
    script_url: str  # where the page loads this map's script from (see `RenderedMap`)
    centre: tuple[float, float]
    zoom: int
    feeds: dict[str, str]
    towns: dict[str, Any] | None = None
    show_heat: bool = False
    live: str = "none"  # own: open a socket; page: listen to the page's; none
    after: int = 0  # with live="own": the stream's newest event when the page was made
    css_height: str = "70vh"
    focus: dict[str, Any] | None = None
    picker: dict[str, Any] | None = None


def build_map(spec: MapSpec, tiles: TileSource | None = None) -> RenderedMap:
    """The folium map of `spec`, rendered into the parts a Django page embeds."""
    tiles = tiles or current_tiles()
    m = HubMap(
        purpose=spec.purpose,
        css_height=spec.css_height,
        location=list(spec.centre),
        zoom_start=spec.zoom,
        max_zoom=max((layer.max_zoom for layer in tiles.layers), default=19),
        prefer_canvas=False,
    )
    _add_tiles(m, tiles)
    layers: dict[str, Any] = {}
    if spec.towns is not None and spec.towns.get("features"):
        outline = folium.GeoJson(
            spec.towns,
            name=_("Town outlines"),
            style_function=lambda _f: {
                "color": "#4a5568",
                "weight": 1.5,
                "fillColor": "#edf2f7" if tiles.blank else "#ffffff",
                "fillOpacity": 0.35 if tiles.blank else 0.05,
            },
            tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
            show=True,
        )
        outline.add_to(m)
        layers["towns"] = outline
    groups = {
        "windows": _("Intake windows"),
        "places": _("Police and landmarks"),
        "projects": _("Construction projects"),
        "warnings": _("Early warnings"),
        "incidents": _("Mass incidents"),
    }
    for key, name in groups.items():
        if key in spec.feeds:
            show = key != "projects" and (key != "places" or spec.purpose == "incident")
            layers[key] = folium.FeatureGroup(name=name, show=show).add_to(m)
    if "cases" in spec.feeds:
        layers["cases"] = CaseCluster(
            name=_("Open cases") if spec.purpose == "command" else _("Linked cases"),
            options={"chunkedLoading": True, "showCoverageOnHover": False},
            icon_create_function="function (cluster) { return hubMapClusterIcon(cluster); }",
        ).add_to(m)
    if "heat" in spec.feeds:
        layers["heat"] = CaseHeat(
            name=_("Heat map of cases"),
            show=spec.show_heat,
            radius=18,
            blur=14,
            min_opacity=0.3,
        ).add_to(m)
    if spec.picker is not None:
        layers["picked"] = folium.FeatureGroup(name=_("Chosen position"), control=False).add_to(m)
    if len([k for k in layers if k != "picked"]) > 1:
        folium.LayerControl(collapsed=spec.purpose != "command").add_to(m)
    HubLayers(
        layers,
        {
            "purpose": spec.purpose,
            "feeds": spec.feeds,
            "live": spec.live,
            "after": spec.after,
            "datum": tiles.datum,
            "focus": spec.focus,
            "picker": spec.picker,
            "labels": _labels(),
            "styles": {"overdue": styles.OVERDUE, "levels": styles.LEVEL_COLOURS},
        },
    ).add_to(m)
    return render_parts(m, prefix=spec.purpose, script_url=spec.script_url)
