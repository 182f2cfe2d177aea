"""Google Business Profile: the reviews of the brand's own places (shops, offices, branches) on
Google Maps and Search, with their stars and the brand's replies.

Two Google APIs (developers.google.com, read 2026-12-06): the Business Information API lists the
account's locations (``GET /v1/accounts/{accountId}/locations?readMask=name,title,metadata``:
``locations[]`` with ``name`` ``locations/{id}``, ``title``, ``metadata.mapsUri``;
``nextPageToken``), and the My Business API v4 lists a location's reviews
(``GET /v4/accounts/{accountId}/locations/{locationId}/reviews?orderBy=updateTime desc``:
``reviews[]`` with ``reviewId``, ``reviewer`` (``displayName``, ``isAnonymous``), ``starRating``
``ONE``…``FIVE``, ``comment``, ``createTime``, ``updateTime``, ``reviewReply`` (``comment``,
``updateTime``); ``nextPageToken``; 50 a page at most). Authorization is the account owner's
(or a manager's) OAuth consent, scope ``business.manage``: a refresh token, with the OAuth
client's id and secret, exchanged at Google's token endpoint for an access token kept until a
minute before it expires. All three come from the environment.

Reviews are read newest change first back to the cursor, so an edited review (its words, its
stars, a reply) comes again and its stored row is updated. A review has no address of its own:
its URL is its place's page on Google Maps. The stars travel as ``rating``: a 1- or 2-star
review is a complaint (``monitor.judgement.ratings``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import SourceOptions, malformed_item, parse_time, reviews_since, secret, text_field
from connectors.quota import Cost, Quota, plural
from connectors.tokens import Tokens, access_token
from monitor.errors import FetchError, ParseError
from monitor.models import Duration, FetchResult, Mention, Query, SourceState

# Business Profile APIs: 300 requests a minute per project by default (their quota page).
QUOTA = Quota(300, timedelta(minutes=1), "per Google Cloud project, the Business Profile APIs' default quota")
STARS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}

_TOKENS = Tokens()  # by (token URL, OAuth client, refresh token's tail)


class GoogleBusinessOptions(SourceOptions):
    """Google Business Profile options: the account, its places, and the OAuth variables."""

    type: Literal["googlebusiness"] = "googlebusiness"
    base_url: str | None = Field(default="https://mybusiness.googleapis.com/v4", description="The reviews API's root (v4).")
    locations_url: str = Field(default="https://mybusinessbusinessinformation.googleapis.com/v1",
                               description="The Business Information API's root (lists the account's locations).")
    token_url: str = Field(default="https://oauth2.googleapis.com/token", description="Where the refresh token is exchanged.")
    account_id: str = Field(min_length=1, description="The Business Profile account's id (the digits of accounts/{id}).")
    location_ids: list[str] | None = Field(default=None, description="Its locations to read (digits of locations/{id}); "
                                                                      "default: every location of the account.")
    client_id_env: str = Field(default="GOOGLE_BUSINESS_CLIENT_ID", description="Environment variable with the OAuth client's id.")
    client_secret_env: str = Field(default="GOOGLE_BUSINESS_CLIENT_SECRET",
                                   description="Environment variable with the OAuth client's secret.")
    refresh_token_env: str = Field(default="GOOGLE_BUSINESS_REFRESH_TOKEN",
                                   description="Environment variable with the account's refresh token (scope business.manage).")
    max_pages: int = Field(default=5, ge=1, le=50, description="Pages of 50 reviews a location a run, back to the cursor.")
    first_run: Duration = Field(default="7d", description="How far back the first run reads.")


def parse_reviews(data: object, *, source: str, place: dict, skipped: list[str] | None = None) -> list[Mention]:
    """The reviews of one page of a location (``place``: its ``name``, ``title`` and Maps URL)."""
    if not isinstance(data, dict) or (data and not {"reviews", "nextPageToken", "totalReviewCount", "averageRating"}
                                      & data.keys()):
        raise ParseError("Google Business Profile returned JSON that is not a list of reviews", source=source)
    if not isinstance(data.get("reviews", []), list):
        raise ParseError("Google Business Profile returned reviews that are not a list", source=source)
    out = []
    for review in data.get("reviews") or []:
        with malformed_item(review, source=source, skipped=skipped):
            if not isinstance(review, dict) or not review.get("reviewId") or not review.get("updateTime"):
                raise ParseError("a review without its reviewId or updateTime")
            reviewer = review.get("reviewer") if isinstance(review.get("reviewer"), dict) else {}
            reply = review.get("reviewReply") if isinstance(review.get("reviewReply"), dict) else None
            name = "" if reviewer.get("isAnonymous") else (text_field(reviewer, "displayName") or "")
            out.append(Mention(
                source=source, source_type="googlebusiness", id=text_field(review, "reviewId") or "",
                url=place["url"], title="", text=_comment(text_field(review, "comment") or ""),
                published_at=parse_time(review["updateTime"], source=source), author=name, author_name=name,
                metrics={"rating": STARS.get(str(review.get("starRating"))), "location": place["name"],
                         "place": place["title"], "created_at": text_field(review, "createTime"),
                         **({"reply": text_field(reply, "comment") or "", "replied_at": text_field(reply, "updateTime")}
                            if reply else {})},
                raw=review,
            ))
    return out


def _comment(text: str) -> str:
    """The reviewer's words: Google appends a machine translation to a review in another
    language ("… (Translated by Google) …"); the original is what was said."""
    original = text.split("(Original)\n", 1)
    if len(original) == 2:
        return original[1].strip()
    return text.split("\n\n(Translated by Google)", 1)[0].strip()


class GoogleBusinessConnector:
    """Reads the Google reviews of the brand's places."""

    type: ClassVar[str] = "googlebusiness"
    Options: ClassVar[type[SourceOptions]] = GoogleBusinessOptions
    revises: ClassVar[bool] = True  # an edited review comes again under its id: the stored row is updated

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: GoogleBusinessOptions, *, queries: Sequence[Query], state: SourceState,
              now: datetime) -> FetchResult:
        """Each location's reviews changed since the cursor, newest change first, ``max_pages`` at
        most; the brand's own places, so every review is about it (bind the source with ``brands:``)."""
        headers = {"Authorization": f"Bearer {self._token(options)}"}
        places = self._places(options, headers)
        since = parse_time(state.cursor) if state.cursor else now - options.first_run
        skipped: list[str] = []
        return reviews_since(options.name, list(places), "location",
                             lambda place, page: self._page(options, places[place], page, headers, skipped),
                             since=since, pages=options.max_pages, now=now, state=state, skipped=skipped, warnings=[])

    def _places(self, options: GoogleBusinessOptions, headers: dict) -> dict[str, dict]:
        """The account's locations to read, by id, each with its title and Maps URL (a page of
        the Business Information API's list, 100 locations, per request)."""
        places: dict[str, dict] = {}
        token = None
        for _ in range(50):
            params = {"readMask": "name,title,metadata", "pageSize": 100, **({"pageToken": token} if token else {})}
            data, _ = http.get_json(self.client, f"{options.locations_url}/accounts/{options.account_id}/locations",
                                    source=options.name, params=params, headers=headers)
            if not isinstance(data, dict) or not isinstance(data.get("locations", []), list):
                raise ParseError("the Business Information API returned JSON without a 'locations' list",
                                 source=options.name)
            for location in data.get("locations") or []:
                ident = str(location.get("name") or "").rpartition("/")[2] if isinstance(location, dict) else ""
                if ident:
                    metadata = location.get("metadata") if isinstance(location.get("metadata"), dict) else {}
                    places[ident] = {"name": f"locations/{ident}", "title": text_field(location, "title") or ident,
                                     "url": text_field(metadata, "mapsUri") or "https://business.google.com/locations"}
            token = data.get("nextPageToken")
            if not isinstance(token, str) or not token:
                break
        if options.location_ids is None:
            if not places:
                raise FetchError(f"account {options.account_id} has no locations this token can see — check account_id,"
                                 " and that the refresh token's user manages its places", source=options.name,
                                 retryable=False)
            return places
        unknown = [ident for ident in options.location_ids if ident not in places]
        if unknown:
            raise FetchError(f"location {', '.join(unknown)} is not one of account {options.account_id}'s "
                             f"({plural(len(places), 'location')}: {', '.join(list(places)[:5]) or 'none'})",
                             source=options.name, retryable=False)
        return {ident: places[ident] for ident in options.location_ids}

    def _page(self, options: GoogleBusinessOptions, place: dict, page: str | None, headers: dict,
              skipped: list[str]) -> tuple[list[Mention], str | None]:
        params = {"pageSize": 50, "orderBy": "updateTime desc", **({"pageToken": page} if page else {})}
        data, _ = http.get_json(self.client, f"{options.base_url}/accounts/{options.account_id}/{place['name']}/reviews",
                                source=options.name, params=params, headers=headers)
        reviews = parse_reviews(data, source=options.name, place=place, skipped=skipped)
        following = data.get("nextPageToken") if isinstance(data, dict) else None
        return reviews, following if isinstance(following, str) and following else None

    def _token(self, options: GoogleBusinessOptions) -> str:
        """An access token from the refresh token, kept until a minute before it expires."""
        client_id, client_secret = secret(options, "client_id_env") or "", secret(options, "client_secret_env") or ""
        refresh = secret(options, "refresh_token_env") or ""
        key = (options.token_url, client_id, refresh[-12:])
        kept = _TOKENS.get(key)
        if kept:
            return kept
        try:
            response = http.request(self.client, "POST", options.token_url, source=options.name,
                                    data={"grant_type": "refresh_token", "client_id": client_id,
                                          "client_secret": client_secret, "refresh_token": refresh})
        except FetchError as exc:
            if exc.status in (400, 401):  # invalid_grant: revoked, expired (7 days in testing mode) or another client's
                raise FetchError("Google refused the refresh token (invalid_grant: revoked, expired, or made for another"
                                 " OAuth client) — consent again and set the new refresh token", source=options.name,
                                 retryable=False, status=exc.status) from None
            raise
        token, expires = access_token(response, source=options.name,
                                      refused="Google gave no access token for the refresh token")
        return _TOKENS.keep(key, token, expires=expires)

    @staticmethod
    def cost(options: GoogleBusinessOptions, queries: Sequence[Query]) -> Cost:
        """The location list, and a page per location a run (more in a burst)."""
        places = len(options.location_ids) if options.location_ids is not None else 1
        what = plural(places, "location") if options.location_ids is not None else "every location"
        return Cost(1 + places, f"the location list and {what}, a page each", QUOTA)
