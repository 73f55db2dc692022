"""Which database errors mean "not now" rather than "never": one classifier for every caller.

The API answers them with 503 and Retry-After; the drain leaves its entries pending and
claims them again; deletion jobs resume. Anything else is the request's (or the data's)
own fault and is not retried.
"""

import psycopg
from django.db import DatabaseError, InterfaceError, OperationalError

#: SQLSTATE classes and codes that pass when retried: connection exceptions (08), insufficient
#: resources (53), operator intervention such as a shutdown (57P), a read-only transaction on a
#: standby (25006), serialization failures and deadlocks (40001, 40P01), a lock not available
#: (55P03) and system errors (58).
TRANSIENT_SQLSTATES = ("08", "53", "57P", "25006", "40001", "40P01", "55P03", "58")


def database_unavailable(error: BaseException) -> bool:
    """True when the database could not serve now and the same work may succeed later.

    Accepts Django's wrapped errors and raw psycopg ones (COPY runs on psycopg's cursor).
    """
    if isinstance(error, OperationalError | InterfaceError):
        return True
    cause = error.__cause__ if isinstance(error, DatabaseError) else error
    if isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    sqlstate = getattr(cause, "sqlstate", None) or ""
    return isinstance(sqlstate, str) and sqlstate.startswith(TRANSIENT_SQLSTATES)
