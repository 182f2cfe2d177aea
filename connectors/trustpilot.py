"""Trustpilot: the reviews of the brand's own business units, newest first, with their stars
and the brand's replies.

The Business Units API (public) (developers.trustpilot.com, "Business Units API (public)",
read 2026-12-06): ``GET /v1/business-units/{businessUnitId}/reviews?orderBy=createdat.desc``
with an ``apikey`` header (the API key of a Trustpilot Business account), ``perPage`` up to 100,
``page`` from 1; each review has ``id``, ``stars`` (1–5), ``title``, ``text``, ``language``,
``createdAt``, ``updatedAt`` (an edit), ``consumer`` (``displayName``, ``numberOfReviews``),
``isVerified`` and ``companyReply`` (``text``, ``createdAt``) when the brand answered. A
business unit's id is in the Business account (or ``/v1/business-units/find?name=domain``).

Reviews page back to the cursor (the newest ``createdAt`` read). An edited review keeps its id:
the store keeps one row for it. The stars travel as ``rating``: a 1- or 2-star review is a
complaint whatever its words score (``monitor.judgement.ratings``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import SourceOptions, as_int, malformed_item, parse_time, reviews_since, secret, text_field
from connectors.quota import Cost, Quota, plural
from monitor.errors import ParseError
from monitor.models import Duration, FetchResult, Mention, Query, SourceState

# The public API allows 833 calls a 5 minutes and 10,000 an hour per key (its rate-limit page).
QUOTA = Quota(10_000, timedelta(hours=1), "per API key, Trustpilot's rate limits")


class TrustpilotOptions(SourceOptions):
    """Trustpilot options: the brand's business units and the API key's variable."""

    type: Literal["trustpilot"] = "trustpilot"
    base_url: str | None = Field(default="https://api.trustpilot.com/v1", description="API root.")
    business_unit_ids: list[str] = Field(min_length=1, description="The brand's business unit ids (24 hex digits).")
    api_key_env: str = Field(default="TRUSTPILOT_API_KEY", description="Environment variable with the API key.")
    per_page: int = Field(default=100, ge=1, le=100, description="Reviews a page (the API's most).")
    max_pages: int = Field(default=5, ge=1, le=50, description="Pages a business unit a run, back to the cursor.")
    first_run: Duration = Field(default="7d", description="How far back the first run reads.")


def parse_reviews(data: object, *, source: str, unit: str, skipped: list[str] | None = None) -> list[Mention]:
    """The reviews of one page, each read by type (a review that is not what Trustpilot sends is
    skipped and counted)."""
    if not isinstance(data, dict) or not isinstance(data.get("reviews"), list):
        raise ParseError("Trustpilot returned JSON without a 'reviews' list", source=source)
    out = []
    for review in data["reviews"]:
        with malformed_item(review, source=source, skipped=skipped):
            if not isinstance(review, dict) or not review.get("id") or not review.get("createdAt"):
                raise ParseError("a review without its id or createdAt")
            consumer = review.get("consumer") if isinstance(review.get("consumer"), dict) else {}
            reply = review.get("companyReply") if isinstance(review.get("companyReply"), dict) else None
            ident = text_field(review, "id") or ""
            out.append(Mention(
                source=source, source_type="trustpilot", id=ident,
                url=f"https://www.trustpilot.com/reviews/{ident}",
                title=text_field(review, "title") or "", text=text_field(review, "text") or "",
                published_at=parse_time(review["createdAt"], source=source),
                author=text_field(consumer, "id") or text_field(consumer, "displayName") or "",
                author_name=text_field(consumer, "displayName") or "",
                language=(text_field(review, "language") or "").split("-")[0].lower() or None,
                metrics={"rating": as_int(review.get("stars")), "business_unit": unit,
                         "verified": bool(review.get("isVerified")),
                         "author_reviews": as_int(consumer.get("numberOfReviews")),
                         "edited_at": text_field(review, "updatedAt"),
                         **({"reply": text_field(reply, "text") or "", "replied_at": text_field(reply, "createdAt")}
                            if reply else {})},
                raw=review,
            ))
    return out


class TrustpilotConnector:
    """Reads the brand's Trustpilot reviews."""

    type: ClassVar[str] = "trustpilot"
    Options: ClassVar[type[SourceOptions]] = TrustpilotOptions
    revises: ClassVar[bool] = True  # an edited review comes again under its id: the stored row is updated

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: TrustpilotOptions, *, queries: Sequence[Query], state: SourceState,
              now: datetime) -> FetchResult:
        """Each business unit's reviews created since the cursor, newest first, ``max_pages`` at
        most; the brand's own listing, so every review is about it (bind the source with
        ``brands:``)."""
        key = secret(options, "api_key_env")
        since = parse_time(state.cursor) if state.cursor else now - options.first_run
        skipped: list[str] = []
        return reviews_since(options.name, options.business_unit_ids, "business unit",
                             lambda unit, page: self._page(options, unit, key, page, skipped), since=since,
                             pages=options.max_pages, now=now, state=state, skipped=skipped, warnings=[])

    def _page(self, options: TrustpilotOptions, unit: str, key: str | None, page: str | None,
              skipped: list[str]) -> tuple[list[Mention], str | None]:
        """One page of a business unit's reviews (``page``: its number, None the first) and the
        next page's number (None after a short page: the last)."""
        number = int(page or 1)
        data, _ = http.get_json(self.client, f"{options.base_url}/business-units/{unit}/reviews", source=options.name,
                                params={"orderBy": "createdat.desc", "perPage": options.per_page, "page": number},
                                headers={"apikey": key or ""})
        reviews = parse_reviews(data, source=options.name, unit=unit, skipped=skipped)
        return reviews, str(number + 1) if len(reviews) >= options.per_page else None

    @staticmethod
    def cost(options: TrustpilotOptions, queries: Sequence[Query]) -> Cost:
        """A page per business unit a run (more in a burst)."""
        units = len(options.business_unit_ids)
        return Cost(units, f"{plural(units, 'business unit')}, a page each", QUOTA)
