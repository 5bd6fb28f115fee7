from decimal import Decimal

from command_center.charts import BAR_AREA, bar_chart


def test_scores_are_shown_as_numbers_and_negative_ones_draw_no_bar() -> None:
    chart = bar_chart([("a", 100.0), ("b", 0.5), ("c", -2.0)])
    assert [b.value for b in chart.bars] == ["100.0", "0.5", "-2.0"]
    assert [b.height for b in chart.bars] == [BAR_AREA, BAR_AREA * 0.005, 0]


def test_rates_are_shown_as_percentages_with_those_below_target_marked() -> None:
    chart = bar_chart([("a", 0.9), ("b", 1.0)], target=0.95, below_target_marked=True, percent=True)
    assert [(b.value, b.marked) for b in chart.bars] == [("90%", True), ("100%", False)]
    assert chart.target_y is not None


def test_counts_stay_whole() -> None:
    assert [b.value for b in bar_chart([("x", 3), ("y", Decimal("1.50"))]).bars] == ["3", "1.50"]
