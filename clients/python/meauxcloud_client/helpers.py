"""The seed's tracking helpers, with the seed's schema table as their column layout.

| event    | blob1        | blob2         | blob3      | blob4       | blob5      | double1     | double2 | double3    | index1     |
|----------|--------------|---------------|------------|-------------|------------|-------------|---------|------------|------------|
| request  | method       | path          | status     | environment | user_agent | duration_ms | count   | size_bytes | request id |
| cost     | project_id   | cost_type     | 'cost'     |             |            | amount_usd  | count   |            | project_id |
| AI usage | 'ai-usage'   | model         | 'tokens'   |             |            | tokens      | cost    | count      | model      |
| error    | 'error'      | error_type    | path       | message     |            | count       |         |            | error_type |
| user     | 'user-event' | event_type    | user_id    |             |            | count       |         |            | user_id    |
| resource | 'resource'   | resource_type | project_id |             |            | usage       | count   |            | project_id |

Two deliberate departures, both additive: the seed's table gives requests a second index
(user agent), which Analytics Engine refuses (one index per point, the whole point is
dropped), so the user agent is blob5; and the seed's ``trackError`` takes a message but
never writes it, so it goes to blob4. Blob1-3, the doubles and index1 are the seed's.
"""

from typing import Literal, Protocol

from meauxcloud_client.validation import Text

USER_AGENT_CHARS = 100
ERROR_MESSAGE_CHARS = 1_000


class Writer(Protocol):
    def write_data_point(
        self,
        blobs: list[Text] | None = None,
        doubles: list[float] | None = None,
        indexes: list[Text] | None = None,
    ) -> None: ...


def track_request(
    dataset: Writer,
    method: str,
    path: str,
    status: int,
    duration_ms: float,
    *,
    size_bytes: int = 0,
    request_id: str | None = None,
    environment: str | None = None,
    user_agent: str | None = None,
) -> None:
    """One served request; ``request_id`` plays the seed's cf-ray and defaults to 'unknown' as there."""
    blobs: list[Text] = [method, path, str(status)]
    if environment is not None or user_agent is not None:
        blobs += [environment, user_agent[:USER_AGENT_CHARS] if user_agent is not None else None]
    dataset.write_data_point(
        blobs=blobs,
        doubles=[duration_ms, 1, size_bytes],
        indexes=[request_id or "unknown"],
    )


def track_project_cost(
    dataset: Writer, project_id: str, cost_type: Literal["time", "ai", "compute"], amount: float
) -> None:
    dataset.write_data_point(blobs=[project_id, cost_type, "cost"], doubles=[amount, 1], indexes=[project_id])


def track_ai_usage(dataset: Writer, model: str, tokens: float, cost: float) -> None:
    dataset.write_data_point(blobs=["ai-usage", model, "tokens"], doubles=[tokens, cost, 1], indexes=[model])


def track_error(dataset: Writer, error_type: str, error_message: str, path: str) -> None:
    dataset.write_data_point(
        blobs=["error", error_type, path, error_message[:ERROR_MESSAGE_CHARS]],
        doubles=[1],
        indexes=[error_type],
    )


def track_user_event(dataset: Writer, event_type: str, user_id: str, count: float = 1) -> None:
    dataset.write_data_point(blobs=["user-event", event_type, user_id], doubles=[count], indexes=[user_id])


def track_resource(dataset: Writer, resource_type: str, project_id: str, usage: float) -> None:
    dataset.write_data_point(blobs=["resource", resource_type, project_id], doubles=[usage, 1], indexes=[project_id])
