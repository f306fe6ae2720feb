"""Hot queries run as prepared statements, planned by PostgreSQL once per connection.

Django binds parameters on the client (psycopg's `ClientCursor`) and prepares nothing, so every
list of sessions sent its SQL with the values in it and PostgreSQL planned it anew: most of a
millisecond, of a request that takes a few. `rows` runs a queryset's SQL through a cursor that
binds on the server and prepares the statement, once per connection (psycopg keeps the 100 most
recent per connection, and the pool keeps the connections), so later runs skip the planning.
The cursor is Django's wrapper around it: the query is counted, logged and its errors translated
like any other. Only for querysets whose SQL PostgreSQL can type without help (comparisons with
columns, no untyped literal parameters), and not behind a pooler that shares server connections
between clients per transaction (PgBouncer's transaction mode), which this app does not use.
"""

from django.db import connection
from django.db.models import QuerySet

NEVER_BY_COUNT = 2**31 - 1  # prepared because asked, never because run often


def rows(queryset: QuerySet) -> list[tuple]:
    """The rows of `values_list` querysets (fields that need no conversion from the database),
    as tuples, through a server-side binding cursor on PostgreSQL (else as Django runs it)."""
    if connection.vendor != "postgresql":
        return [tuple(row) for row in queryset]
    sql, params = queryset.query.sql_with_params()
    connection.ensure_connection()
    if connection.connection.prepare_threshold is None:
        # Django leaves psycopg's preparing off (None), which refuses even an explicit request.
        # Any number turns it on; only cursors that ask (this module's) prepare, and Django's
        # own cursors, binding on the client, never do.
        connection.connection.prepare_threshold = NEVER_BY_COUNT
    cursor = _preparing_cursor()(connection.connection)
    wrapped = (
        connection.make_debug_cursor(cursor)
        if connection.queries_logged
        else connection.make_cursor(cursor)
    )
    with wrapped:
        wrapped.execute(sql, params)
        return wrapped.fetchall()


def _preparing_cursor():
    """Django's server-binding cursor class, preparing every statement it runs."""
    global _PreparingCursor
    if _PreparingCursor is None:
        from django.db.backends.postgresql.base import ServerBindingCursor

        class PreparingCursor(ServerBindingCursor):
            def execute(self, query, params=None, *, prepare=None, binary=None):
                result = super().execute(query, params, prepare=True, binary=binary)
                if self._query is None:
                    # psycopg leaves the query unset when it runs a statement already
                    # prepared; Django's query log reads it (as it does for every cursor).
                    self._query = self._convert_query(query, params)
                return result

        _PreparingCursor = PreparingCursor
    return _PreparingCursor


_PreparingCursor = None
