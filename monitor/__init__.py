"""Social media reputation monitor: the core.

``models`` and ``errors`` are the shared vocabulary every package may import. ``config`` (the
schema) and ``config_check`` (reading config.yaml), ``runtime`` (what a config builds), ``ingest``,
``watch``, ``health``, ``pipeline``, ``scheduler`` put the parts together and may import any of
them; ``judgement/`` and ``store/`` import only ``models`` and ``errors``; nothing imports ``cli/``
(``tests/test_imports.py`` keeps it so).
"""
