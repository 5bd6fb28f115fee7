"""Demo map data for the demo district: town outlines, project sites and police stations.

The outlines are not the real boundaries: each town gets the part of the district's box
nearer to its centre than to any other (`voronoi_cells`). A real district imports its
surveyed outlines with `manage.py import_outlines`.
"""

from __future__ import annotations

from django.db import transaction

from incidents.demo import DISTRICT_CENTRE, TOWNS
from incidents.models import District, Project, Unit
from maps.domain.geometry import voronoi_cells
from maps.models import Place

# west, south, east, north around the demo towns
DISTRICT_BOX = (120.12, 30.64, 120.52, 30.93)
# Where each demo project is: the town it is in, and its offset from the town's centre.
PROJECT_SITES = {
    "洪光新天地": ("nanxun", 0.006, -0.008),
    "孔雀城三期": ("devzone", -0.010, 0.007),
    "南浔古镇安置房": ("nanxun", -0.012, 0.004),
    "练市大桥改建": ("lianshi", 0.004, 0.011),
    "頔塘河堤加固": ("jiuguan", 0.008, -0.014),
    "双林工业厂房": ("shuanglin", -0.007, 0.009),
    "菱湖商业综合体": ("linghu", 0.005, 0.006),
    "开发区标准厂房二期": ("devzone", 0.009, -0.006),
    "和孚美丽乡村道路": ("hefu", -0.011, -0.010),
    "千金花园小区": ("qianjin", 0.006, 0.008),
}


def load_map_reference(district: District) -> int:
    """Upsert the demo outlines, project sites and landmarks; returns the landmarks' count."""
    towns = {u.code: u for u in Unit.objects.filter(district=district, kind="territorial")}
    centres = {code: (lat, lng) for code, _zh, _en, lat, lng in TOWNS}
    with transaction.atomic():
        codes = [code for code, *_ in TOWNS if code in towns]
        cells = voronoi_cells([(centres[c][1], centres[c][0]) for c in codes], DISTRICT_BOX)
        for code, cell in zip(codes, cells, strict=True):
            Unit.objects.filter(pk=towns[code].pk).update(outline=cell)
        for name, (town, d_lat, d_lng) in PROJECT_SITES.items():
            lat, lng = centres[town]
            Project.objects.filter(district=district, name=name).update(
                town=towns.get(town), lat=round(lat + d_lat, 6), lng=round(lng + d_lng, 6)
            )
        places: list[tuple[str, Place.Kind, str, str, Unit | None, float, float, str]] = [
            (
                f"police_{code}",
                Place.Kind.POLICE,
                f"{zh.removesuffix('镇').removesuffix('街道')}派出所",
                f"{en.rsplit(' ', 1)[0]} Police Station",
                towns.get(code),
                lat - 0.004,
                lng + 0.005,
                "",
            )
            for code, zh, en, lat, lng in TOWNS
        ] + [
            (
                f"gov_{code}",
                Place.Kind.GOVERNMENT,
                f"{zh}人民政府",
                f"{en} Government",
                towns.get(code),
                lat + 0.002,
                lng - 0.003,
                "",
            )
            for code, zh, en, lat, lng in TOWNS
        ]
        lat, lng = DISTRICT_CENTRE
        places += [
            (
                "gov_district",
                Place.Kind.GOVERNMENT,
                "区人民政府",
                "District Government",
                None,
                lat + 0.003,
                lng - 0.004,
                "",
            ),
            (
                "police_district",
                Place.Kind.POLICE,
                "区公安分局",
                "District Public Security Bureau",
                None,
                lat - 0.002,
                lng + 0.006,
                "110",
            ),
        ]
        for code, kind, zh, en, place_town, p_lat, p_lng, phone in places:
            Place.objects.update_or_create(
                district=district,
                code=code,
                defaults={
                    "kind": kind,
                    "name_zh": zh,
                    "name_en": en,
                    "town": place_town,
                    "lat": round(p_lat, 6),
                    "lng": round(p_lng, 6),
                    "phone": phone,
                },
            )
    return len(places)
