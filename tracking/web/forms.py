"""Forms of the web pages; they check shape, services check meaning."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms

from projects.models import Role, Scope
from tracking.models import (
    DATASET_NAME_PATTERN,
    MAX_RETENTION_DAYS,
    PROJECTION_DIMENSIONS,
    PROJECTION_DOUBLES,
    PROJECTION_MAX_DIMENSIONS,
    ProjectionGrain,
)
from tracking.reports.window import INTERVALS, PRESETS

INTERVAL_NAMES = {10: "10 seconds", 60: "1 minute", 300: "5 minutes", 900: "15 minutes", 3600: "1 hour", 21600: "6 hours", 86400: "1 day"}
RANGE_NAMES = {"5m": "Last 5 minutes", "1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days"}


class ReportFilterForm(forms.Form):
    """The range picker: a preset, or a custom from/to; an interval, or one chosen to fit."""

    range = forms.ChoiceField(choices=[(key, RANGE_NAMES[key]) for key in PRESETS] + [("custom", "Custom")], required=False)
    start = forms.DateTimeField(required=False, label="From (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    end = forms.DateTimeField(required=False, label="To (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    interval = forms.TypedChoiceField(
        choices=[("", "Automatic")] + [(seconds, INTERVAL_NAMES[seconds]) for seconds in INTERVALS],
        coerce=int,
        empty_value=None,
        required=False,
    )
    dataset = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, datasets: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["dataset"]).choices = [(name, name) for name in datasets]


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(max_length=100)
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple, initial=[Scope.READ])


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150, label="Username or email")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class DatasetSettingsForm(forms.Form):
    retention_days = forms.IntegerField(min_value=1, max_value=MAX_RETENTION_DAYS)
    labels = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='JSON, e.g. {"blob2": "path", "double1": "duration_ms"}. A label naming a request role moves it.',
    )

    otlp_mapping = forms.CharField(
        required=False,
        label="OTLP mapping (JSON)",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='What differs from the default mapping of OTLP spans, logs and metrics, e.g. {"logs": {"enabled": true}} (docs/otlp.md).',
    )

    def clean_labels(self) -> dict[str, str]:
        return _json_object(self.cleaned_data.get("labels"), "Labels")

    def clean_otlp_mapping(self) -> dict[str, object]:
        return _json_object(self.cleaned_data.get("otlp_mapping"), "The OTLP mapping")


class ProjectionAddForm(forms.Form):
    """Shape only; ``projection_create`` checks what the database holds (a name already taken)."""

    name = forms.RegexField(
        DATASET_NAME_PATTERN,
        max_length=64,
        error_messages={"invalid": "Letters, digits and underscores, not starting with a digit; 64 at most."},
    )
    dimensions = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=f"at most {PROJECTION_MAX_DIMENSIONS} columns",
    )
    doubles = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple, help_text="Sum, min and max of.")
    grain = forms.TypedChoiceField(choices=ProjectionGrain.choices, coerce=int, initial=ProjectionGrain.HOUR)

    def __init__(self, *args: Any, labels: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

        def named(column: str) -> tuple[str, str]:
            return column, f"{column} ({labels[column]})" if labels.get(column) else column

        cast(forms.MultipleChoiceField, self.fields["dimensions"]).choices = [named(c) for c in PROJECTION_DIMENSIONS]
        cast(forms.MultipleChoiceField, self.fields["doubles"]).choices = [named(c) for c in PROJECTION_DOUBLES]

    def clean_dimensions(self) -> list[str]:
        dimensions: list[str] = self.cleaned_data["dimensions"]
        if len(dimensions) > PROJECTION_MAX_DIMENSIONS:
            raise forms.ValidationError(f"At most {PROJECTION_MAX_DIMENSIONS} dimensions; {len(dimensions)} chosen.")
        return dimensions


def _json_object(text: str | None, what: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise forms.ValidationError(f"Not JSON: {error.msg}.") from None
    if not isinstance(value, dict):
        raise forms.ValidationError(f"{what} must be a JSON object.")
    return value
