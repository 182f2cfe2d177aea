"""Social media reputation monitor: the core (config, pipeline, judgement, store, CLI)."""
