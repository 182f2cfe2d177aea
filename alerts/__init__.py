"""Alert receivers: where notifications go (console, Slack)."""
