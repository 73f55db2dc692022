"""Demo data fills every report: each chart has points and each table has rows."""

import pytest
from django.utils import timezone

from tracking.reports.demo import reports_demo_generate
from tracking.reports.selectors import REPORTS, realtime_window, report_get
from tracking.reports.window import PRESETS, window_preset

pytestmark = pytest.mark.django_db


def test_demo_data_gives_every_report_charts_and_tables(project):
    dataset = reports_demo_generate(project=project, days=2, points=6_000)
    now = timezone.now()

    empty = []
    for name in REPORTS:
        window = realtime_window(now=now) if name == "realtime" else window_preset(length=PRESETS["24h"], end=now)
        report = report_get(project=project, name=name, dataset=dataset, window=window, now=now)
        empty += [f"{name}.{chart}" for chart, series in report.series.items() if not any(any(v) for v in series.lines.values())]
        empty += [f"{name}.{table}" for table, rows in report.tables.items() if not rows.rows]

    assert dataset.last_write_at is not None
    assert empty == []
