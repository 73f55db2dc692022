"""Forms of the alerts page; the services validate again, so a form only shapes input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet

from tracking.alerts.models import MAX_ROLLING_DAYS, MAX_WINDOW_MINUTES, MIN_WINDOW_MINUTES, Channel, ChannelKind, Comparator, Metric
from tracking.models import DATASET_NAME_PATTERN

PERIODS = [("month", "Calendar month"), ("day", "Calendar day"), ("rolling", "Rolling days")]


class _ChannelsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Channel) -> str:
        return f"{obj.kind}: {obj.name or obj.url or ', '.join(obj.to)}"


def _channels(project_channels: QuerySet[Channel]) -> _ChannelsField:
    return _ChannelsField(queryset=project_channels, required=False, widget=forms.CheckboxSelectMultiple)


class BudgetForm(forms.Form):
    name = forms.CharField(max_length=100)
    dataset = forms.RegexField(DATASET_NAME_PATTERN, max_length=64)
    period = forms.ChoiceField(choices=PERIODS)
    rolling_days = forms.IntegerField(min_value=1, max_value=MAX_ROLLING_DAYS, required=False, help_text="For rolling periods.")
    amount_usd = forms.DecimalField(max_digits=18, decimal_places=6, min_value=Decimal("0.000001"), label="Amount (USD)")
    thresholds = forms.CharField(initial="50, 80, 100", help_text="Percentages, comma-separated.")
    forecast = forms.BooleanField(required=False, help_text="Notify when the projected period spend exceeds the amount.")
    cost_type = forms.CharField(max_length=200, required=False)
    project_id = forms.CharField(max_length=200, required=False, label="Project id (blob1)")
    model = forms.CharField(max_length=200, required=False, label="AI model")

    def __init__(self, *args: Any, project_channels: QuerySet[Channel], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channels"] = _channels(project_channels)

    def clean_thresholds(self) -> list[int]:
        try:
            values = sorted({int(part) for part in self.cleaned_data["thresholds"].split(",") if part.strip()})
        except ValueError as error:
            raise forms.ValidationError("Whole percentages separated by commas, e.g. 50, 80, 100.") from error
        if not values or len(values) > 10 or not all(1 <= value <= 1000 for value in values):
            raise forms.ValidationError("One to ten percentages from 1 to 1000.")
        return values

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("period") == "rolling" and not data.get("rolling_days"):
            self.add_error("rolling_days", "A rolling period needs its number of days.")
        return data


class RuleForm(forms.Form):
    name = forms.CharField(max_length=100)
    dataset = forms.RegexField(DATASET_NAME_PATTERN, max_length=64)
    metric = forms.ChoiceField(choices=Metric.choices)
    window_minutes = forms.IntegerField(min_value=MIN_WINDOW_MINUTES, max_value=MAX_WINDOW_MINUTES, initial=5)
    op = forms.ChoiceField(choices=Comparator.choices, label="Fires when the value is")
    threshold = forms.DecimalField(max_digits=24, decimal_places=6, min_value=Decimal(0), help_text="Rates as fractions (0.2 = 20%), latency in ms.")
    min_requests = forms.IntegerField(min_value=0, initial=0, help_text="Judge rates, percentiles and errors only from this many requests.")
    error_type = forms.CharField(max_length=200, required=False)
    path = forms.CharField(max_length=500, required=False)

    def __init__(self, *args: Any, project_channels: QuerySet[Channel], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channels"] = _channels(project_channels)


class ChannelForm(forms.Form):
    kind = forms.ChoiceField(choices=ChannelKind.choices)
    name = forms.CharField(max_length=100, required=False)
    url = forms.URLField(max_length=2000, required=False, label="Webhook URL", assume_scheme="https")
    to = forms.CharField(required=False, label="E-mail addresses", help_text="Comma-separated.")

    def clean_to(self) -> list[str]:
        addresses = [part.strip() for part in self.cleaned_data["to"].split(",") if part.strip()]
        field = forms.EmailField()
        for address in addresses:
            field.clean(address)
        return addresses
