"""Google Play reviews of the brand's own Android apps, with their stars and the developer's
replies, through the Google Play Developer API.

``GET /androidpublisher/v3/applications/{packageName}/reviews`` (developers.google.com,
"Method: reviews.list" and "Reply to Reviews", read 2026-12-06): ``reviews[]`` with
``reviewId``, ``authorName`` and ``comments[]`` holding a ``userComment`` (``text``,
``lastModified`` as ``{seconds, nanos}``, ``starRating`` 1–5, ``reviewerLanguage``,
``appVersionName``, ``thumbsUpCount``) and the ``developerComment`` replying to it;
``tokenPagination.nextPageToken`` for the next page. Only reviews with a comment, and only of
the last week, are served: a source that has not read for longer says the gap. Authorization is
a service account's (the "Reply to reviews" permission in Play Console): a JWT it signs (RS256,
PyJWT) exchanged at its ``token_uri`` for an access token, kept until a minute before it
expires. The account's JSON key comes from the environment.

The stars travel as ``rating``: a 1- or 2-star review is a complaint (``monitor.judgement.ratings``).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import ClassVar, Literal, Sequence

import httpx
from pydantic import Field

from connectors import http
from connectors.base import SourceOptions, as_int, malformed_item, parse_time, reviews_since, secret, text_field
from connectors.quota import Cost, Quota, plural
from connectors.tokens import Tokens, access_token
from monitor.errors import FetchError, ParseError
from monitor.models import FetchResult, Mention, Query, SourceState, to_iso

# The Play Developer API's reviews quota: 200 GET requests an hour per app (its quota page).
QUOTA = Quota(200, timedelta(hours=1), "per app, the Play Developer API's reviews quota")
KEPT = timedelta(days=7)  # what reviews.list serves: the last week
SCOPE = "https://www.googleapis.com/auth/androidpublisher"

_TOKENS = Tokens()  # by (token URL, service account)


class GooglePlayOptions(SourceOptions):
    """Google Play options: the apps, and the service account's key variable."""

    type: Literal["googleplay"] = "googleplay"
    base_url: str | None = Field(default="https://androidpublisher.googleapis.com/androidpublisher/v3",
                                 description="API root.")
    package_names: list[str] = Field(min_length=1, description="The apps' package names, e.g. com.acme.cloud.")
    credentials_env: str = Field(default="GOOGLE_PLAY_CREDENTIALS",
                                 description="Environment variable with the service account's JSON key (its text).")
    max_pages: int = Field(default=5, ge=1, le=50, description="Pages of 100 reviews an app a run, back to the cursor.")
    token_url: str | None = Field(default=None, description="Where the token is exchanged (default: the key's token_uri).")


def parse_reviews(data: object, *, source: str, package: str, skipped: list[str] | None = None) -> list[Mention]:
    """The reviews of one page, newest comment first, each with the developer's reply."""
    # Google leaves empty fields out, so {} is an empty page; an object with none of the list's
    # fields is something else.
    if not isinstance(data, dict) or (data and not {"reviews", "tokenPagination", "pageInfo"} & data.keys()):
        raise ParseError("Google Play returned JSON that is not a list of reviews", source=source)
    if not isinstance(data.get("reviews", []), list):
        raise ParseError("Google Play returned reviews that are not a list", source=source)
    out = []
    for review in data.get("reviews") or []:
        with malformed_item(review, source=source, skipped=skipped):
            if not isinstance(review, dict) or not review.get("reviewId") or not isinstance(review.get("comments"), list):
                raise ParseError("a review without its reviewId or comments")
            user = next((c["userComment"] for c in review["comments"]
                         if isinstance(c, dict) and isinstance(c.get("userComment"), dict)), None)
            reply = next((c["developerComment"] for c in review["comments"]
                          if isinstance(c, dict) and isinstance(c.get("developerComment"), dict)), None)
            if user is None:
                raise ParseError("a review without the user's comment")
            ident = text_field(review, "reviewId") or ""
            author = text_field(review, "authorName") or ""
            out.append(Mention(
                source=source, source_type="googleplay", id=ident,
                url=f"https://play.google.com/store/apps/details?id={package}&reviewId={ident}",
                title="", text=(text_field(user, "text") or "").strip(),
                published_at=_moment(user.get("lastModified")), author=author, author_name=author,
                language=(text_field(user, "reviewerLanguage") or "").split("_")[0].split("-")[0].lower() or None,
                metrics={"rating": as_int(user.get("starRating")), "package": package,
                         "app_version": text_field(user, "appVersionName"), "thumbs_up": as_int(user.get("thumbsUpCount")),
                         **({"reply": text_field(reply, "text") or "",
                             "replied_at": to_iso(_moment(reply.get("lastModified")))} if reply else {})},
                raw=review,
            ))
    return out


def _moment(value: object) -> datetime:
    """A ``{seconds, nanos}`` timestamp (Google's protobuf JSON)."""
    seconds = as_int(value.get("seconds")) if isinstance(value, dict) else None
    if seconds is None or not 0 <= seconds < 10**11:
        raise ParseError(f"a time that is not {{seconds, nanos}}: {str(value)[:60]!r}")
    return datetime.fromtimestamp(seconds, timezone.utc)


class GooglePlayConnector:
    """Reads the Google Play reviews of the brand's apps."""

    type: ClassVar[str] = "googleplay"
    Options: ClassVar[type[SourceOptions]] = GooglePlayOptions
    revises: ClassVar[bool] = True  # an edited review comes again under its id: the stored row is updated

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self, options: GooglePlayOptions, *, queries: Sequence[Query], state: SourceState,
              now: datetime) -> FetchResult:
        """Each app's reviews changed since the cursor (the API keeps a week: a longer gap is said)."""
        account = _account(secret(options, "credentials_env") or "", source=options.name)
        headers = {"Authorization": f"Bearer {self._token(options, account)}"}
        kept_from = now - KEPT
        # The first run takes what the API serves (its week); later runs what changed since the cursor.
        since = parse_time(state.cursor) if state.cursor else datetime(1970, 1, 1, tzinfo=timezone.utc)
        warnings = []
        if state.cursor and since < kept_from:
            warnings.append(f"reviews from {state.cursor[:16]} to {to_iso(kept_from)[:16]} are past the week Google "
                            "Play's API keeps: not read (run the source at least daily)")
        skipped: list[str] = []
        return reviews_since(options.name, options.package_names, "app",
                             lambda package, page: self._page(options, package, page, headers, skipped), since=since,
                             pages=options.max_pages, now=now, state=state, skipped=skipped, warnings=warnings)

    def _page(self, options: GooglePlayOptions, package: str, page: str | None, headers: dict,
              skipped: list[str]) -> tuple[list[Mention], str | None]:
        params = {"maxResults": 100, **({"token": page} if page else {})}
        data, _ = http.get_json(self.client, f"{options.base_url}/applications/{package}/reviews", source=options.name,
                                params=params, headers=headers)
        reviews = parse_reviews(data, source=options.name, package=package, skipped=skipped)
        following = ((data.get("tokenPagination") or {}).get("nextPageToken")) if isinstance(data, dict) else None
        return reviews, following if isinstance(following, str) and following else None

    def _token(self, options: GooglePlayOptions, account: dict) -> str:
        """An access token for the service account, kept until a minute before it expires."""
        try:
            import jwt  # PyJWT with cryptography (the reviews extra): only where this source is used
        except ImportError:
            raise FetchError("the googleplay source needs PyJWT to sign its token: pip install "
                             "'reputation-monitor[reviews]' (or PyJWT[crypto])", source=options.name,
                             retryable=False) from None
        audience = options.token_url or account["token_uri"]
        key = (audience, account["client_email"])
        kept = _TOKENS.get(key)
        if kept:
            return kept
        issued = int(time.time())
        kid = account.get("private_key_id")
        try:
            assertion = jwt.encode({"iss": account["client_email"], "scope": SCOPE, "aud": audience,
                                    "iat": issued, "exp": issued + 3600}, account["private_key"], algorithm="RS256",
                                   headers={"kid": kid} if kid else None)
        except (ValueError, TypeError, jwt.PyJWTError):  # never echo the key
            raise FetchError("the service account's private key could not sign a token: check its JSON key",
                             source=options.name, retryable=False) from None
        response = http.request(self.client, "POST", audience, source=options.name,
                                data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion})
        token, expires = access_token(response, source=options.name,
                                      refused="Google gave no access token for the service account")
        return _TOKENS.keep(key, token, expires=expires)

    @staticmethod
    def cost(options: GooglePlayOptions, queries: Sequence[Query]) -> Cost:
        """A page per app a run (more in a burst)."""
        return Cost(len(options.package_names), f"{plural(len(options.package_names), 'app')}, a page each", QUOTA)


def _account(text: str, *, source: str) -> dict:
    """The service account's JSON key, checked for what the token needs (never echoed)."""
    try:
        account = json.loads(text)
    except ValueError:
        raise FetchError("the service account's key is not JSON: set its variable to the key file's text",
                         source=source, retryable=False) from None
    if not isinstance(account, dict) or not all(isinstance(account.get(k), str) and account.get(k)
                                                for k in ("client_email", "private_key", "token_uri")):
        raise FetchError("the service account's key lacks client_email, private_key or token_uri", source=source,
                         retryable=False)
    return account
