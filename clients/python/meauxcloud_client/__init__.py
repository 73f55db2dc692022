"""MeauxCLOUD Analytics client: Analytics Engine's ``writeDataPoint`` for Python.

    from meauxcloud_client import Dataset, track_request
    analytics = Dataset("https://analytics.example.com", "mc_w_...", "meauxcloud_analytics")
    analytics.write_data_point(blobs=["user-login", "google-oauth"], doubles=[1], indexes=["user-123"])
"""

from meauxcloud_client.aio import AsyncDataset
from meauxcloud_client.budgets import BudgetStatus, BudgetStatusError, budget_status, budget_statuses
from meauxcloud_client.dataset import Dataset
from meauxcloud_client.helpers import track_ai_usage, track_error, track_project_cost, track_request, track_resource, track_user_event
from meauxcloud_client.middleware import ASGIMiddleware, WSGIMiddleware
from meauxcloud_client.pipeline import Stats
from meauxcloud_client.registry import shared_dataset
from meauxcloud_client.validation import DataPointError, data_point_check

__all__ = [
    "ASGIMiddleware",
    "AsyncDataset",
    "BudgetStatus",
    "BudgetStatusError",
    "DataPointError",
    "Dataset",
    "Stats",
    "WSGIMiddleware",
    "budget_status",
    "budget_statuses",
    "data_point_check",
    "shared_dataset",
    "track_ai_usage",
    "track_error",
    "track_project_cost",
    "track_request",
    "track_resource",
    "track_user_event",
]
