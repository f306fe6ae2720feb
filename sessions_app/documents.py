"""The `SessionInfo` JSON of sessions, read from their stored documents (`SessionDocument`).

Rebuilding a list of 500 sessions from their rows means 6,500 member and event rows fetched,
decoded, mapped and encoded on every read. Instead each session's `SessionInfo` is stored
encoded, once per change, by the one renderer there is (`dto.session_info`, `render_json`), and
a list is read as the sessions' document revisions, the documents themselves coming from this
process's memory (`lru`) or, for those it has not seen, from their stored copies.

Freshness does not depend on who writes: triggers (migration 0010) give a document a new
`revision` in the transaction of any change to what it shows, and a stored document counts only
if it was rendered at that revision, checked by the query that reads it. Documents that are not
(a session changed since, or never rendered) are rendered afresh from the rows, served, and
stored back with a compare-and-set on the revision read together with the rows: a change
committed meanwhile has made a new revision, and one still in progress holds the row's lock
(such rows are skipped, not waited for), so an older rendering never overwrites a newer change.
A revision is drawn from one sequence, so it names one state of one session for good: what a
process keeps under a revision (only documents as stored, at the revision they were stored at)
can never become stale, only unused.

The API answers every format from these documents: JSON as stored, XML and CSV from the values
read back from them (`jsonfmt.parse_json`). On SQLite (the demo), which has no triggers, nothing
is stored and every document is rendered afresh from the rows.
"""

from django.conf import settings
from django.db import connection
from django.db.models import Case, F, Q, QuerySet, When

from . import prepared
from .errors import SessionNotFound
from .lru import TextLRU
from .models import CallSession, SessionDocument, User
from .selectors import (
    session_etag,
    session_records,
    sessions_active_queryset,
    sessions_visible_to,
)
from .wire import contracts, dto
from .wire.jsonfmt import render_json

# A stored document counts only if it was rendered at its session's current revision.
_FRESH = Q(document__rendered_revision=F("document__revision"))
_FRESH_JSON = Case(When(_FRESH, then="document__json"))
_FRESH_ETAG = Case(When(_FRESH, then="document__etag"))

# revision -> (JSON, ETag): documents as they were stored, at the revision they were stored at.
_kept = TextLRU(int(settings.DOCUMENT_CACHE_MB * 1_000_000))


def documents_stored() -> bool:
    """Whether documents are stored: on PostgreSQL, whose triggers keep them honest."""
    return connection.vendor == "postgresql"


def forget_kept_documents() -> None:
    """Forget the documents this process keeps in memory (tests)."""
    _kept.clear()


def session_documents(queryset: QuerySet[CallSession]) -> list[str]:
    """The `SessionInfo` JSON of each session of `queryset`, newest first.

    One query for the sessions' revisions, when this process has their documents; one more for
    the stored documents it has not; and for those not stored at their revision, four to render
    them (`selectors.session_records`) and one to store them."""
    if not documents_stored():
        return [render(record)[0] for record in session_records(queryset)]
    rows = prepared.rows(
        queryset.order_by("-date_created", "-id").values_list("pk", "document__revision")
    )
    kept = _kept.get_many(revision for _, revision in rows)
    missing = [pk for pk, revision in rows if revision not in kept]
    found = _stored(missing) if missing else {}
    stale = [pk for pk in missing if pk not in found]
    if stale:
        # Not `queryset` again: a session that ended meanwhile is still shown, as it was read.
        found.update(render_and_store(CallSession.objects.filter(pk__in=stale)))
    documents = []
    for pk, revision in rows:
        document = kept.get(revision) or found.get(pk)
        if document is not None:  # else deleted meanwhile
            documents.append(document[0])
    return documents


def _stored(session_ids: list[str]) -> dict[str, tuple[str, str]]:
    """The stored documents of these sessions that are at their current revision, by session
    (one query); kept in memory by that revision."""
    rows = SessionDocument.objects.filter(
        session_id__in=session_ids, rendered_revision=F("revision")
    ).values_list("session_id", "revision", "json", "etag")
    found, keep = {}, []
    for session_id, revision, json, etag in rows:
        found[session_id] = (json, etag)
        keep.append((revision, (json, etag)))
    _kept.set_many(keep)
    return found


def session_documents_active_for(**filters) -> list[str]:
    """`sessions_active_queryset(**filters)` as `SessionInfo` JSON documents, newest first."""
    return session_documents(sessions_active_queryset(**filters))


def session_document_for(*, user: User, session_id: str, changed: bool = False) -> tuple[str, str]:
    """One session of the user's as (`SessionInfo` JSON, `ETag`), or SessionNotFound. One query
    if its stored document is fresh. `changed`: the caller has just changed it, so it is
    rendered (and stored) without looking first."""
    sessions = sessions_visible_to(user).filter(pk=session_id)
    if not changed and documents_stored():
        row = sessions.values_list(_FRESH_JSON, _FRESH_ETAG).first()
        if row is None:
            raise SessionNotFound(session_id)
        if row[0] is not None:
            return row
    rendered = render_and_store(sessions)
    if session_id not in rendered:
        raise SessionNotFound(session_id)
    return rendered[session_id]


def render_and_store(queryset: QuerySet[CallSession]) -> dict[str, tuple[str, str]]:
    """Render the documents of the sessions of `queryset` from their rows, store those whose
    revision has not moved since it was read with them, and return {id: (JSON, ETag)}."""
    records = session_records(queryset)
    rendered = {record["id"]: render(record) for record in records}
    if documents_stored():
        _store(records, rendered)
    return rendered


def render(record: dict) -> tuple[str, str]:
    """A session record (`selectors.session_records`) as its document: (`SessionInfo` JSON,
    `ETag`), exactly as the API would render it from the rows."""
    json = render_json(contracts.SESSION_INFO, dto.session_info(record)).decode()
    return json, session_etag(record)


_STORE = f"""
UPDATE {SessionDocument._meta.db_table} AS d
SET json = v.json, etag = v.etag, rendered_revision = v.revision
FROM unnest(%s::varchar[], %s::bigint[], %s::text[], %s::varchar[])
    AS v(session_id, revision, json, etag)
WHERE d.session_id = v.session_id AND d.revision = v.revision AND d.session_id IN (
    SELECT session_id FROM {SessionDocument._meta.db_table}
    WHERE session_id = ANY(%s::varchar[])
    FOR UPDATE SKIP LOCKED
)
RETURNING d.session_id, d.rendered_revision
"""


def _store(records: list[dict], rendered: dict[str, tuple[str, str]]) -> None:
    """One UPDATE: each document whose revision is still the one read with its record, unless
    a transaction holds its row (it is changing the session: its commit makes a new revision).
    Never waits, so a reader takes no part in a deadlock. Those stored are kept in memory."""
    records = [record for record in records if record["document__revision"] is not None]
    if not records:
        return
    ids = [record["id"] for record in records]
    with connection.cursor() as cursor:
        cursor.execute(
            _STORE,
            [
                ids,
                [record["document__revision"] for record in records],
                [rendered[pk][0] for pk in ids],
                [rendered[pk][1] for pk in ids],
                ids,
            ],
        )
        stored = cursor.fetchall()
    _kept.set_many((revision, rendered[pk]) for pk, revision in stored)
