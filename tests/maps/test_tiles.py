"""Where map tiles come from: `MAP_TILES` and its companions, checked once."""

from __future__ import annotations

from typing import Any

import pytest

from maps.domain.tiles import TileConfigError, tile_source

KEY = "0123456789abcdef0123456789abcdef"
OSM = "https://tile.example.org/{z}/{x}/{y}.png"


@pytest.mark.parametrize("tiles", ["none", "", "  ", "None", "NONE", " none "])
def test_none_is_a_blank_map_that_fetches_nothing(tiles: str) -> None:
    source = tile_source(tiles)
    assert source.blank
    assert source.layers == ()
    assert source.hosts == frozenset()
    assert source.datum == "wgs84"


def test_tianditu_draws_the_vector_map_and_its_labels() -> None:
    source = tile_source("tianditu", tianditu_key=KEY)
    assert not source.blank
    assert source.datum == "wgs84"
    vec, cva = source.layers
    assert "/vec_w/wmts?" in vec.url
    assert "&LAYER=vec&" in vec.url
    assert "/cva_w/wmts?" in cva.url
    assert "&LAYER=cva&" in cva.url
    for layer in source.layers:
        assert f"tk={KEY}" in layer.url
        for part in ("TILEMATRIX={z}", "TILEROW={y}", "TILECOL={x}", "https://t{s}."):
            assert part in layer.url
        assert layer.subdomains == "01234567"
        assert layer.url.startswith("https://")
    assert "天地图" in vec.attribution


def test_tianditu_loads_from_its_eight_hosts() -> None:
    source = tile_source("Tianditu", tianditu_key=KEY)
    assert source.hosts == frozenset(f"t{i}.tianditu.gov.cn" for i in range(8))


def test_tianditu_zooms_no_further_than_18() -> None:
    assert {
        layer.max_zoom for layer in tile_source("tianditu", tianditu_key=KEY, max_zoom=20).layers
    } == {18}
    assert {
        layer.max_zoom for layer in tile_source("tianditu", tianditu_key=KEY, max_zoom=12).layers
    } == {12}


def test_the_tianditu_key_is_trimmed() -> None:
    source = tile_source("tianditu", tianditu_key=f"  {KEY}\n")
    assert all(layer.url.endswith(f"tk={KEY}") for layer in source.layers)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({}, "needs MAP_TIANDITU_KEY", id="no-key"),
        pytest.param({"tianditu_key": "   "}, "needs MAP_TIANDITU_KEY", id="blank-key"),
        pytest.param({"tianditu_key": "abc&x=1"}, "MAP_TIANDITU_KEY", id="ampersand"),
        pytest.param({"tianditu_key": "abc def"}, "MAP_TIANDITU_KEY", id="space"),
        pytest.param({"tianditu_key": "abc-def"}, "MAP_TIANDITU_KEY", id="dash"),
        pytest.param({"tianditu_key": "abc/../x"}, "MAP_TIANDITU_KEY", id="slash"),
        pytest.param({"tianditu_key": KEY, "datum": "gcj02"}, "WGS-84", id="gcj02"),
    ],
)
def test_tianditu_needs_a_plain_key_and_wgs84(options: dict[str, Any], message: str) -> None:
    with pytest.raises(TileConfigError, match=message):
        tile_source("tianditu", **options)


@pytest.mark.parametrize("key", ["密钥密钥", "１２３４", "clé"])
def test_a_tianditu_key_with_letters_beyond_ascii_is_refused(key: str) -> None:
    with pytest.raises(TileConfigError, match="MAP_TIANDITU_KEY"):
        tile_source("tianditu", tianditu_key=key)


def test_a_url_template_is_one_layer_from_its_host() -> None:
    source = tile_source(OSM, attribution="© OpenStreetMap", max_zoom=19)
    [layer] = source.layers
    assert layer.url == OSM
    assert layer.attribution == "© OpenStreetMap"
    assert layer.max_zoom == 19
    assert layer.subdomains == ""
    assert source.hosts == frozenset({"tile.example.org"})
    assert source.datum == "wgs84"


def test_a_template_in_gcj02_says_so() -> None:
    source = tile_source(
        "https://webrd0{s}.is.autonavi.com/{z}/{x}/{y}", datum="gcj02", subdomains="1234"
    )
    assert source.datum == "gcj02"
    assert source.hosts == frozenset(f"webrd0{i}.is.autonavi.com" for i in "1234")


def test_subdomains_make_one_host_each() -> None:
    source = tile_source("https://{s}.tile.example.org/{z}/{x}/{y}.png", subdomains="abc")
    assert source.layers[0].subdomains == "abc"
    assert source.hosts == frozenset(
        {"a.tile.example.org", "b.tile.example.org", "c.tile.example.org"}
    )


def test_hosts_are_lower_case() -> None:
    assert tile_source("https://Tiles.Example.ORG/{z}/{x}/{y}.png").hosts == frozenset(
        {"tiles.example.org"}
    )


def test_a_path_on_this_host_loads_from_no_other_host() -> None:
    source = tile_source("/tiles/{z}/{x}/{y}.png")
    assert not source.blank
    assert source.layers[0].url == "/tiles/{z}/{x}/{y}.png"
    assert source.hosts == frozenset()


def test_a_protocol_relative_template_still_names_its_host() -> None:
    # Whether or not such a template should be taken, its host must not go unnoticed.
    try:
        source = tile_source("//tiles.example.org/{z}/{x}/{y}.png")
    except TileConfigError:
        return
    assert source.hosts == frozenset({"tiles.example.org"})


def test_the_tms_row_order_is_accepted() -> None:
    source = tile_source("https://tms.example.org/{z}/{x}/{-y}.png")
    assert source.layers[0].url.endswith("{-y}.png")


def test_http_is_accepted() -> None:
    assert tile_source("http://tiles.local/{z}/{x}/{y}.png").hosts == frozenset({"tiles.local"})


@pytest.mark.parametrize(
    ("template", "missing"),
    [
        ("https://t.example.org/{x}/{y}.png", "{z}"),
        ("https://t.example.org/{z}/{y}.png", "{x}"),
        ("https://t.example.org/{z}/{x}.png", "{y}"),
        ("https://t.example.org/tile.png", "{z}, {x}, {y}"),
        ("/tiles/{z}-{x}.png", "{y}"),
    ],
)
def test_a_template_without_a_tile_part_names_what_is_missing(template: str, missing: str) -> None:
    with pytest.raises(TileConfigError, match="lacks") as refused:
        tile_source(template)
    assert str(refused.value).endswith(f"lacks {missing}")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("ftp://tiles.example.org/{z}/{x}/{y}.png", "ftp: is not http or https"),
        ("file:///srv/tiles/{z}/{x}/{y}.png", "file: is not http or https"),
        ("javascript:alert(1)//{z}/{x}/{y}", "javascript: is not http or https"),
        ("tiles/{z}/{x}/{y}.png", "a path on this host"),
        ("https:///{z}/{x}/{y}.png", "no host"),
    ],
)
def test_a_template_not_over_http_nor_on_this_host_is_refused(template: str, message: str) -> None:
    with pytest.raises(TileConfigError, match=message):
        tile_source(template)


def test_subdomains_are_needed_for_a_template_with_s() -> None:
    with pytest.raises(TileConfigError, match="MAP_TILES_SUBDOMAINS"):
        tile_source("https://{s}.tile.example.org/{z}/{x}/{y}.png", subdomains="")


@pytest.mark.parametrize("tiles", ["none", "tianditu", OSM])
@pytest.mark.parametrize("datum", ["WGS84", "bd09", "", "gcj-02"])
def test_an_unknown_datum_is_refused(tiles: str, datum: str) -> None:
    with pytest.raises(TileConfigError, match="MAP_TILES_DATUM"):
        tile_source(tiles, datum=datum, tianditu_key=KEY)


@pytest.mark.parametrize("tiles", ["none", OSM])
@pytest.mark.parametrize("max_zoom", [0, -1, 23, 100])
def test_max_zoom_outside_1_to_22_is_refused(tiles: str, max_zoom: int) -> None:
    with pytest.raises(TileConfigError, match="MAP_TILES_MAX_ZOOM"):
        tile_source(tiles, max_zoom=max_zoom)


@pytest.mark.parametrize("max_zoom", [1, 22])
def test_max_zoom_1_and_22_are_accepted(max_zoom: int) -> None:
    assert tile_source(OSM, max_zoom=max_zoom).layers[0].max_zoom == max_zoom


def test_a_tile_config_error_is_a_value_error() -> None:
    assert issubclass(TileConfigError, ValueError)
