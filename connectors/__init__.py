"""Connectors: one module per source type, and the registry mapping ``type:`` to the class.

They import only ``monitor.models`` and ``monitor.errors`` (and their own package): a connector
never touches the store (cursors are handed in) and never sees an alert.
"""

from __future__ import annotations

from connectors.appstore import AppStoreConnector
from connectors.appstoreconnect import AppStoreConnectConnector
from connectors.base import Connector, SourceOptions
from connectors.bluesky import BlueskyConnector
from connectors.dev import DevConnector
from connectors.discourse import DiscourseConnector
from connectors.github import GitHubConnector
from connectors.googlebusiness import GoogleBusinessConnector
from connectors.googlenews import GoogleNewsConnector
from connectors.googleplay import GooglePlayConnector
from connectors.hackernews import HackerNewsConnector
from connectors.lemmy import LemmyConnector
from connectors.lobsters import LobstersConnector
from connectors.mastodon import MastodonConnector
from connectors.reddit import RedditConnector
from connectors.rss import RssConnector
from connectors.stackexchange import StackExchangeConnector
from connectors.threads import ThreadsConnector
from connectors.trustpilot import TrustpilotConnector
from connectors.x import XConnector
from connectors.youtube import YouTubeConnector

REGISTRY: dict[str, type[Connector]] = {
    connector.type: connector
    for connector in (
        RssConnector, HackerNewsConnector, RedditConnector, MastodonConnector, BlueskyConnector, YouTubeConnector,
        GoogleNewsConnector, AppStoreConnector, StackExchangeConnector, GitHubConnector, DiscourseConnector, LemmyConnector,
        LobstersConnector, DevConnector, TrustpilotConnector, AppStoreConnectConnector,
        GooglePlayConnector, GoogleBusinessConnector, ThreadsConnector, XConnector,
    )
}

__all__ = ["REGISTRY", "Connector", "SourceOptions"]
