"""The one error type the SQL engine raises for anything the caller can fix."""

from sqlglot import exp


class SqlError(Exception):
    """A refused or failed query, safe to show: never echoes rewritten SQL or internal ids.

    ``line``/``column`` are 1-based positions in the caller's SQL when known, so both
    endpoints can point at the offending token.
    """

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None, status: int = 422):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.status = status

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"{self.message} (line {self.line}, column {self.column})"


def node_position(node: exp.Expression | None) -> tuple[int | None, int | None]:
    """Best-effort source position of a node: sqlglot records it on identifiers and literals only."""
    if node is None:
        return None, None
    for candidate in node.walk(bfs=False):
        meta = getattr(candidate, "_meta", None)
        if meta and "line" in meta:
            start = meta.get("start", 0)
            end = meta.get("end", start)
            return meta["line"], max(1, meta["col"] - (end - start))
    return None, None


def sql_error_at(message: str, node: exp.Expression | None) -> SqlError:
    line, column = node_position(node)
    return SqlError(message, line=line, column=column)
