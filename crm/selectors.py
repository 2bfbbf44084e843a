"""Reads of the customer record shared by office views, portal views, the API and tasks."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.postgres.search import TrigramSimilarity
from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Max, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber

from crm import registry, rows
from crm.errors import NotFound
from crm.models import (
    CUSTOMER_NUMBER_ALPHABET,
    CUSTOMER_NUMBER_LENGTH,
    ConsentChannel,
    ConsentEvent,
    ConsentPurpose,
    Customer,
    CustomerAccess,
    CustomerMerge,
    DistinctCustomerPair,
    Lead,
    LeadNote,
    LeadStatus,
    TimelineEntry,
)

CUSTOMER_NUMBER_RE = re.compile(rf"^[{CUSTOMER_NUMBER_ALPHABET}]{{{CUSTOMER_NUMBER_LENGTH}}}$")
NAME_SIMILARITY_THRESHOLD = 0.2
NAME_SIMILARITY_PASSES = (0.5, 0.3, NAME_SIMILARITY_THRESHOLD)
NAME_WORD_RE = re.compile(r"[^\W_]+")  # as crm_name_words splits names in the database
NAME_WORDS_MAX = 6
NAME_TYPO_MIN_LENGTH = 3  # shorter words are one slip away from too many others to help
NAME_WORD_MEANINGS = 8  # per word typed: the likeliest; short romanized syllables have dozens of neighbours
NAME_EXACT_ENOUGH = 25  # a page of names holding every word as typed: no need for neighbours


def identity_hash(value: str | None) -> str:
    """Keyed hash of a document number, for exact lookup without decrypting every row."""
    normalized = re.sub(r"[\s-]", "", (value or "")).upper()
    if not normalized:
        return ""
    return hmac.new(settings.FIELD_HASH_KEY.encode(), normalized.encode(), hashlib.sha256).hexdigest()


def normalize_phone(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def customer_queryset() -> QuerySet[Customer]:
    return Customer.objects.filter(anonymized_at__isnull=True).select_related("user")


def customer_search(*, query: str, limit: int = 25, by_documents: bool = False) -> list[Customer]:
    """One search box: e-mail, phone, customer number, passport, any app's reference, or a name.

    Names match by trigram similarity, so "Jonh Smiht" still finds John Smith; exact
    matches on identifiers come first. Passport and ID numbers are looked up only with
    ``by_documents`` (staff who may see them): for anyone else, finding a customer by a number
    would tell them whose document it is.
    """
    ids = customer_search_ids(query=query, limit=limit, by_documents=by_documents)
    if not ids:
        return []
    found = customer_queryset().in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


def customer_search_ids(*, query: str, limit: int = 25, by_documents: bool = False) -> list[int]:
    """The ids customer_search finds, best first, without loading (and decrypting) the rows."""
    text = (query or "").strip()
    if not text:
        return []
    # Every identifier the text could be, in one statement (each has its own index; PostgreSQL ORs them).
    matches, params = [], []
    if "@" in text:
        matches.append("lower(email) = %s")
        params.append(text.lower())
    compact = re.sub(r"[\s-]", "", text).upper()
    if CUSTOMER_NUMBER_RE.match(compact):
        matches.append("customer_number = %s")
        params.append(compact)
    if re.fullmatch(r"\+?[\d\s().-]{7,20}", text):
        phone = normalize_phone(text if text.startswith("+") else "+" + re.sub(r"\D", "", text))
        if phone:
            matches.append("phone = %s")
            params.append(phone)
    if by_documents and re.fullmatch(r"[A-Za-z0-9\s-]{5,40}", text) and any(ch.isdigit() for ch in text):
        digest = identity_hash(text)
        matches.append("passport_hash = %s OR national_id_hash = %s")
        params.extend([digest, digest])
    results: list[int] = []
    if matches:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM crm_customer WHERE anonymized_at IS NULL AND ({' OR '.join(matches)}) "  # noqa: S608 - placeholders only
                "ORDER BY family_name, given_name, id LIMIT %s",
                [*params, limit],
            )
            results = [row[0] for row in cursor.fetchall()]
    elsewhere = set(registry.search(text)) - set(results)  # booking references, frequent flyer numbers...
    if elsewhere:
        results = list(
            customer_queryset()
            .filter(id__in=[*results, *elsewhere][:limit])
            .order_by("family_name", "given_name", "id")
            .values_list("id", flat=True)
        )
    exact_ids = set(results)
    remaining = limit - len(results)
    if remaining > 0 and "@" not in text and not any(ch.isdigit() for ch in text):
        name = " ".join(text.lower().split())
        similar = customer_ids_by_name_words(name=name, exclude=exact_ids, limit=remaining)
        if not similar and not results:  # the slow, forgiving search only when nothing else was found
            similar = customer_ids_by_name_similarity(name=name, exclude=exact_ids, limit=remaining)
        results.extend(similar)
    return results


def name_words_of(text: str) -> list[str]:
    """A name's words as the database splits them (crm_name_words): lower case, letters and digits only."""
    return list(dict.fromkeys(NAME_WORD_RE.findall(text.lower())))[:NAME_WORDS_MAX]


def name_word_meanings(*, words: list[str]) -> dict[str, set[str]]:
    """For each word typed, the words of customers' names it may mean: itself, one slip of the fingers
    away (an insertion, deletion, substitution or swap; see NameWord), or, from three letters, a word it
    begins. One query for all the words; the NAME_WORD_MEANINGS closest are kept, closest being the most
    shared keys (a swap shares two, so "Gray" still means Gary), then the nearest length."""
    meanings: dict[str, set[str]] = {w: {w} for w in words}
    typed_keys = {w: set(name_word_keys(w)) for w in words if len(w) >= NAME_TYPO_MIN_LENGTH}
    if not typed_keys:
        return meanings
    # Raw SQL: this and the lookup below run on every name search, and composing them through the ORM
    # took longer than PostgreSQL took to answer them.
    lookup = "SELECT %s, word, keys FROM crm_nameword WHERE keys && %s::text[] OR word LIKE %s"
    with connection.cursor() as cursor:
        cursor.execute(
            " UNION ALL ".join([lookup] * len(typed_keys)),
            [v for w, keys in typed_keys.items() for v in (w, sorted(keys), _like_prefix(w))],
        )
        rows = cursor.fetchall()
    candidates: dict[str, list[tuple[int, int, str]]] = {w: [] for w in typed_keys}
    for typed, word, keys in rows:
        if word != typed:
            shared = len(typed_keys[typed].intersection(keys))
            candidates[typed].append((-shared, abs(len(word) - len(typed)), word))
    for typed, ranked in candidates.items():
        meanings[typed].update(word for *_, word in sorted(ranked)[: NAME_WORD_MEANINGS - 1])
    return meanings


def name_word_keys(word: str) -> list[str]:
    """The word and the word with each letter dropped in turn, as crm_name_word_keys makes them."""
    return sorted({word, *(word[:i] + word[i + 1 :] for i in range(len(word)))} - {""})


def customer_ids_by_name_words(*, name: str, exclude: set[int], limit: int) -> list[int]:
    """Customers whose name holds every word as typed, then, to fill the page, those whose name holds for
    every word one it may mean; the most similar names first within each.

    Order of words does not matter ("Smith John" finds John Smith) and each word may carry one typo. The
    exact words go first because they are cheap to look up and are what an agent who typed well wants;
    when they already fill a page, one-slip neighbours would only bury them (Jing Ding under Ming Ping)
    and cost a scan of thousands of names, so they are not looked up.
    """
    words = name_words_of(name)
    if not words:
        return []
    found = _customer_ids_holding(word_sets=[[w] for w in words], name=name, exclude=exclude, limit=limit)
    if len(found) < min(limit, NAME_EXACT_ENOUGH):
        meanings = name_word_meanings(words=words)
        if any(len(m) > 1 for m in meanings.values()):
            found += _customer_ids_holding(
                word_sets=[sorted(m) for m in meanings.values()],
                name=name,
                exclude=exclude | set(found),
                limit=limit - len(found),
            )
    return found


def _customer_ids_holding(*, word_sets: list[list[str]], name: str, exclude: set[int], limit: int) -> list[int]:
    """Customers whose name holds a word of every set (a GIN lookup per set), most similar to `name` first."""
    holds = " AND ".join(["name_words && %s::text[]"] * len(word_sets))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM crm_customer WHERE anonymized_at IS NULL AND {holds} "  # noqa: S608 - placeholders only
            "AND NOT (id = ANY(%s::bigint[])) ORDER BY similarity(search_name, %s) DESC, id LIMIT %s",
            [*word_sets, sorted(exclude), name, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def _like_prefix(text: str) -> str:
    """A LIKE pattern for "begins with `text`", the wildcards in it taken literally."""
    return re.sub(r"([\\%_])", r"\\\1", text) + "%"


def customer_ids_by_name_similarity(*, name: str, exclude: set[int], limit: int) -> list[int]:
    """The slow, forgiving search over whole names, for text whose words match no name: several typos in
    a word, or a name written without spaces.

    Stricter thresholds first: far fewer index candidates to re-check on a large table. The result is the
    same as one pass at NAME_SIMILARITY_THRESHOLD: once a pass finds `limit` names, no name below its
    threshold could rank among them.
    """
    similar: list[int] = []
    for threshold in NAME_SIMILARITY_PASSES:
        with connection.cursor() as cursor:
            cursor.execute("SET pg_trgm.similarity_threshold = %s", [threshold])
        similar = list(
            customer_queryset()
            .select_related(None)
            .filter(search_name__trigram_similar=name)
            .exclude(id__in=exclude)
            .annotate(similarity=TrigramSimilarity("search_name", name))
            .order_by("-similarity", "id")
            .values_list("id", flat=True)[:limit]
        )
        if len(similar) >= limit:
            break
    return similar


CUSTOMER_LIST_COLUMNS = (
    "customer_number", "title", "given_name", "family_name", "gender", "date_of_birth", "email", "phone",
    "nationality", "country", "home_airport", "preferred_cabin", "created_at",
)  # fmt: skip


def customer_list_rows(*, ids: list[int]) -> list[dict[str, Any]]:
    """What a list of customers shows (CUSTOMER_LIST_COLUMNS), for these ids in this order, as plain rows.

    A page of search results built as model instances (forty-odd fields each) took longer than the search
    itself; the list needs a dozen columns and no behaviour. Erased customers are left out.
    """
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, {', '.join(CUSTOMER_LIST_COLUMNS)} FROM crm_customer "  # noqa: S608 - fixed column names
            "WHERE anonymized_at IS NULL AND id = ANY(%s::bigint[])",
            [list(ids)],
        )
        names = [column.name for column in cursor.description]
        found = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    return [found[pk] for pk in ids if pk in found]


def customer_get(*, customer_number: str) -> Customer:
    try:
        return customer_queryset().get(customer_number=customer_number)
    except Customer.DoesNotExist:
        raise NotFound("No customer with that number.") from None


def customer_get_for_user(*, user) -> Customer:  # noqa: ANN001
    """The passenger's own record; a login without one is 'not found', never someone else's."""
    if not user.is_authenticated:
        raise NotFound("No customer record.")
    try:
        return customer_queryset().get(user=user)
    except Customer.DoesNotExist:
        raise NotFound("No customer record.") from None


def customer_of_login(*, user) -> Customer | None:  # noqa: ANN001
    """``user.customer`` (None for a login without a record, or not logged in), read once per login object.

    A hand-written query (``crm.rows``): the API asks it on every booking, and the ORM spent three times
    as long compiling the customer's forty columns as reading them. Cached on the login as the ORM caches it, both ways, so
    ``user.customer`` and ``customer.user`` read nothing more afterwards.
    """
    if user is None or not user.is_authenticated:
        return None
    related = Customer._meta.get_field("user").remote_field
    if not related.is_cached(user):
        customer_columns = rows.columns(Customer, "c")
        with connection.cursor() as cursor:
            rows.execute_prepared(
                cursor,
                name="customer_of_login",
                sql=f"SELECT {customer_columns.sql} FROM {Customer._meta.db_table} c WHERE c.user_id = %s",  # noqa: S608 - the model's own names
                params=[user.pk],
            )
            row = cursor.fetchone()
        customer = customer_columns.build(row) if row is not None else None
        related.set_cached_value(user, customer)
        if customer is not None:
            related.field.set_cached_value(customer, user)
    return related.get_cached_value(user)


def login_get_by_email(*, email: str):  # noqa: ANN201
    """The active login whose username is this e-mail address (the portal's usernames), or None."""
    from django.contrib.auth import get_user_model

    address = (email or "").strip().lower()
    if not address:
        return None
    return get_user_model().objects.filter(username=address, is_active=True).first()


def login_get_by_id(*, user_id: int | str | None):  # noqa: ANN201
    """The active login with this id (from a one-time link), or None for anything else."""
    from django.contrib.auth import get_user_model

    try:
        return get_user_model().objects.filter(pk=int(user_id), is_active=True).first()
    except (TypeError, ValueError, OverflowError):
        return None


def consent_current(*, customer: Customer) -> dict[tuple[str, str], ConsentEvent | None]:
    """Latest event per channel and purpose; None where the customer never answered (= no consent)."""
    latest = (
        ConsentEvent.objects.filter(customer=customer)
        .order_by("channel", "purpose", "-recorded_at", "-id")
        .distinct("channel", "purpose")
    )
    found = {(e.channel, e.purpose): e for e in latest}
    return {(c, p): found.get((c, p)) for c in ConsentChannel.values for p in ConsentPurpose.values}


def consent_is_granted(*, customer: Customer, channel: str, purpose: str) -> bool:
    event = (
        ConsentEvent.objects.filter(customer=customer, channel=channel, purpose=purpose)
        .order_by("-recorded_at", "-id")
        .only("granted")
        .first()
    )
    return bool(event and event.granted)


def consent_history(*, customer: Customer) -> QuerySet[ConsentEvent]:
    return ConsentEvent.objects.filter(customer=customer).select_related("recorded_by").order_by("-recorded_at", "-id")


def timeline_for_customer(*, customer: Customer) -> QuerySet[TimelineEntry]:
    return TimelineEntry.objects.filter(customer=customer).select_related("actor").order_by("-occurred_at", "-id")


def access_log(*, customer: Customer | None = None) -> QuerySet[CustomerAccess]:
    qs = CustomerAccess.objects.select_related("user", "customer").order_by("-accessed_at", "-id")
    return qs.filter(customer=customer) if customer is not None else qs


def lead_list(*, status: str | None = None) -> QuerySet[Lead]:
    qs = Lead.objects.select_related("owner", "referred_by", "converted_customer")
    return qs.filter(status=status) if status else qs


def lead_get(*, lead_id: int | str) -> Lead:
    try:
        return lead_list().select_related("created_by").get(pk=int(lead_id))
    except (Lead.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound("No lead with that id.") from None


@dataclass(frozen=True)
class DuplicateScan:
    """Likely duplicate pairs among a window of customers, newest first, and where the next window starts."""

    pairs: list[tuple[Customer, Customer, str]]  # (the older record, the newer one, why), newest pairs first
    scanned: int  # customers checked in this window
    older_than: int | None  # the id to continue below; None when the oldest customer has been checked


def customer_duplicate_candidates(*, older_than: int | None = None, window: int | None = None) -> DuplicateScan:
    """Pairs that are probably one person: same e-mail, phone or passport, or a similar name born the same day,
    leaving out the pairs a supervisor marked as two people (DistinctCustomerPair).

    Each of the `window` (settings.DUPLICATE_REVIEW_WINDOW) newest customers below `older_than` is compared
    with every older one through
    the indexes on those columns, so a page costs the same at a thousand customers or a million (a
    self-join of the whole table took a minute at a million). A pair is found once, with its newer record.
    """
    sql = """
        WITH a AS (
            SELECT id, email, phone, passport_hash, date_of_birth, search_name FROM crm_customer
            WHERE anonymized_at IS NULL AND id < %s ORDER BY id DESC LIMIT %s
        )
        SELECT a.id, m.id, m.reason FROM a CROSS JOIN LATERAL (
            SELECT b.id, 'same e-mail' AS reason FROM crm_customer b
             WHERE a.email <> '' AND lower(b.email) = lower(a.email) AND b.id < a.id AND b.anonymized_at IS NULL
            UNION ALL
            SELECT b.id, 'same phone' FROM crm_customer b
             WHERE a.phone <> '' AND b.phone = a.phone AND b.id < a.id AND b.anonymized_at IS NULL
            UNION ALL
            SELECT b.id, 'same passport' FROM crm_customer b
             WHERE a.passport_hash <> '' AND b.passport_hash = a.passport_hash AND b.id < a.id
               AND b.anonymized_at IS NULL
            UNION ALL
            SELECT b.id, 'similar name, same date of birth' FROM crm_customer b
             WHERE b.date_of_birth = a.date_of_birth AND b.id < a.id AND b.anonymized_at IS NULL
               AND similarity(b.search_name, a.search_name) >= 0.5
        ) m
        WHERE NOT EXISTS (
            SELECT 1 FROM crm_distinctcustomerpair d
             WHERE d.older_id = m.id AND d.newer_id = a.id AND d.undone_at IS NULL
        )
        UNION ALL
        SELECT min(id), NULL, count(*)::text FROM a
    """
    window = window or settings.DUPLICATE_REVIEW_WINDOW
    with connection.cursor() as cursor:
        cursor.execute(sql, [older_than if older_than is not None else 2**63 - 1, window])
        rows = cursor.fetchall()
    matches = [row for row in rows if row[1] is not None]
    oldest, _, scanned = next(row for row in rows if row[1] is None)
    reasons: dict[tuple[int, int], list[str]] = {}
    for newer, older, reason in sorted(matches, key=lambda row: (-row[0], -row[1])):
        reasons.setdefault((newer, older), []).append(reason)
    by_id = Customer.objects.in_bulk({i for pair in reasons for i in pair})
    pairs = [(by_id[older], by_id[newer], ", ".join(why)) for (newer, older), why in reasons.items()]
    scanned = int(scanned)
    return DuplicateScan(pairs=pairs, scanned=scanned, older_than=oldest if scanned == window else None)


def customer_ids_ordered(ids: list[int]) -> Case:
    """Keep a list's order in SQL (used when ids come ranked from elsewhere)."""
    return Case(*[When(id=pk, then=Value(i)) for i, pk in enumerate(ids)], output_field=IntegerField())


# --- Back-office ----------------------------------------------------------------------------


def customer_recently_viewed(*, user, limit: int = 10) -> list[tuple[Customer, datetime]]:  # noqa: ANN001
    """The customers this staff member looked at last, most recent first (from the access log)."""
    latest = list(
        CustomerAccess.objects.filter(user=user, customer__anonymized_at__isnull=True)
        .values("customer_id")
        .annotate(last_viewed=Max("accessed_at"))
        .order_by("-last_viewed", "-customer_id")[:limit]
    )
    by_id = Customer.objects.in_bulk([row["customer_id"] for row in latest])
    return [(by_id[row["customer_id"]], row["last_viewed"]) for row in latest if row["customer_id"] in by_id]


def customer_referrals(*, customer: Customer) -> QuerySet[Lead]:
    """Prospects this customer referred to the airline."""
    return Lead.objects.filter(referred_by=customer).select_related("converted_customer").order_by("-created_at", "-id")


def customer_converted_leads(*, customer: Customer) -> QuerySet[Lead]:
    """The leads that became this customer, so sales can follow the customer after the sale."""
    return Lead.objects.filter(converted_customer=customer).select_related("owner").order_by("-converted_at", "-id")


def distinct_pairs_recent(*, limit: int) -> list[DistinctCustomerPair]:
    """The latest pairs marked "not a duplicate" (still marked or undone), for the review page's audit list."""
    return list(
        DistinctCustomerPair.objects.select_related("older", "newer", "marked_by", "undone_by").order_by("-marked_at", "-id")[
            :limit
        ]
    )


def customer_merged_into(*, customer_number: str) -> Customer | None:
    """The record a merged-away customer number now lives on, or None if the number was never merged away.

    A merge moves every earlier merge's record to its survivor (crm.receivers.merge_customer), so one
    lookup finds the current record even after a chain of merges.
    """
    merge = (
        CustomerMerge.objects.filter(loser_customer_number=customer_number, survivor__isnull=False)
        .select_related("survivor")
        .order_by("-merged_at", "-id")
        .first()
    )
    return merge.survivor if merge is not None else None


def customer_merges(*, customer: Customer) -> QuerySet[CustomerMerge]:
    return CustomerMerge.objects.filter(survivor=customer).select_related("merged_by").order_by("-merged_at", "-id")


def customer_change_history(*, customer: Customer) -> QuerySet[LogEntry]:
    """Who changed what on the record, from what to what (auditlog), newest first."""
    return LogEntry.objects.get_for_object(customer).select_related("actor").order_by("-timestamp", "-id")


def customer_related_counts(*, customer: Customer) -> dict[str, int]:
    """How much hangs off a record in crm, to help choose which of two duplicates survives."""
    return {
        "timeline": TimelineEntry.objects.filter(customer=customer).count(),
        "consent_events": ConsentEvent.objects.filter(customer=customer).count(),
        "referrals": Lead.objects.filter(referred_by=customer).count(),
        "leads": Lead.objects.filter(converted_customer=customer).count(),
    }


def access_log_search(*, customer_number: str = "", username: str = "", action: str = "") -> QuerySet[CustomerAccess]:
    """The staff access log, narrowed to one customer, one staff login and/or one kind of access (view, change)."""
    qs = access_log()
    if action:
        qs = qs.filter(action=action)
    if customer_number:
        qs = qs.filter(customer__customer_number=customer_number)
    if username:
        qs = qs.filter(user__username__iexact=username)
    return qs


def lead_counts_by_status(*, source: str = "") -> dict[str, int]:
    qs = Lead.objects.filter(source=source) if source else Lead.objects.all()
    counts = dict(qs.order_by().values_list("status").annotate(n=Count("id")))
    return {status: counts.get(status, 0) for status in LeadStatus.values}


def lead_pipeline(*, source: str = "", per_status: int = 20) -> dict[str, list[Lead]]:
    """The newest ``per_status`` leads of each status, in one query, for the pipeline board."""
    qs = lead_list().filter(source=source) if source else lead_list()
    ranked = qs.annotate(
        pipeline_rank=Window(RowNumber(), partition_by=[F("status")], order_by=[F("created_at").desc(), F("id").desc()])
    ).filter(pipeline_rank__lte=per_status)
    columns: dict[str, list[Lead]] = {status: [] for status in LeadStatus.values}
    for lead in ranked.order_by("status", "-created_at", "-id"):
        columns.setdefault(lead.status, []).append(lead)
    return columns


def lead_notes(*, lead: Lead) -> QuerySet[LeadNote]:
    return LeadNote.objects.filter(lead=lead).select_related("author").order_by("-created_at", "-id")


def lead_converted_list(*, source: str = "") -> QuerySet[Lead]:
    """Leads that became customers, newest conversion first: which referrals paid off."""
    qs = lead_list(status=LeadStatus.CONVERTED).select_related("created_by")
    if source:
        qs = qs.filter(source=source)
    return qs.order_by("-converted_at", "-id")
