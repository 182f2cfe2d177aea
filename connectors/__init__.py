"""Connectors: one module per source type, and the registry mapping ``type:`` to the class."""

from __future__ import annotations

from connectors.base import Connector, SourceOptions
from connectors.hackernews import HackerNewsConnector
from connectors.rss import RssConnector

REGISTRY: dict[str, type[Connector]] = {
    connector.type: connector for connector in (RssConnector, HackerNewsConnector)
}

__all__ = ["REGISTRY", "Connector", "SourceOptions"]
