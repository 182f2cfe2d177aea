"""Where the learned layer's model lives, and picking up a new one without a restart.

The shipped model is a file in the package (``monitor/judgement/models/``: weights, never data).
``monitor train`` writes a site's refit beside the database (``monitor.db`` →
``monitor.assassin.json.gz``); every source run asks ``ModelSource.current`` for the model, which
re-reads the site file when it changed (one ``stat``), so a running monitor scores with the new
model from its next run. A site file that cannot be read is logged and the previous model kept
(the shipped one at worst): a bad file never stops scoring.

The sentence encoder the models' sentence heads read (``monitor/judgement/encoder.py``) is
loaded here too, once per process and only when a post first needs it (half a second, about 100 MB);
where it cannot be loaded, the reason is logged once and the fast call scores alone.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import threading
from pathlib import Path

from monitor.errors import StoreError
from monitor.judgement.learned import Model

log = logging.getLogger("monitor")

SHIPPED = Path(__file__).resolve().parent / "judgement" / "models" / "assassin-2.json.gz"


def site_path(database: str | Path) -> Path:
    """The site model beside ``database``."""
    database = Path(database)
    return database.with_name(database.stem + ".assassin.json.gz")


def read(path: Path) -> Model:
    """A model file (gzipped JSON); StoreError naming the file when it cannot be used."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return Model.from_dict(json.load(handle))
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        raise StoreError(f"cannot read the assassin model {path}: {type(exc).__name__}: {exc}") from exc


def write(model: dict, path: Path) -> None:
    """Write a model atomically (a reader sees the old file or the new one, never half), gzipped
    with no timestamp so the same model is the same bytes."""
    tmp = path.with_name(path.name + ".tmp")
    payload = json.dumps(model, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as handle:
        handle.write(payload)
    os.replace(tmp, path)


class ModelSource:
    """The model to score with: the site's if there is one, else the shipped one."""

    def __init__(self, shipped: Path = SHIPPED) -> None:
        self.shipped_path = shipped
        self._shipped: Model | None = None
        self._site: dict[Path, tuple[tuple[int, int], Model | None]] = {}
        self._lock = threading.Lock()
        self.encoder_unavailable: str | None = None  # why the encoder could not be loaded

    def encoder(self, mode: str = "auto") -> object | None:
        """The sentence encoder (``encoder.shared``: loaded once per process, on first use); None
        with ``mode`` off, or where it cannot run: said once per source of models, as an error when
        the config asks for it ``always``."""
        if mode == "off":
            return None
        from monitor.judgement import encoder as encoders

        try:
            return encoders.shared()
        except encoders.EncoderUnavailable as exc:
            with self._lock:
                first, self.encoder_unavailable = self.encoder_unavailable is None, str(exc)
            if first:
                (log.error if mode == "always" else log.info)(
                    "sentiment.encoder %s: %s; the assassin call reads words only", mode, exc)
            return None

    def shipped(self) -> Model:
        if self._shipped is None:
            self._shipped = read(self.shipped_path)
            self._shipped.meta.setdefault("where", "shipped")
        return self._shipped

    def current(self, database: str | Path | None) -> Model:
        """The site model beside ``database`` when there is a readable one, else the shipped one."""
        if database is None or str(database) == ":memory:":
            return self.shipped()
        path = site_path(database)
        try:
            stat = path.stat()
        except OSError:
            return self.shipped()
        key = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            seen = self._site.get(path)
            if seen is not None and seen[0] == key:
                return seen[1] or self.shipped()
            try:
                model = read(path)
                model.meta["where"] = str(path)
                if model.sentence is None:  # refit before the sentence heads: they read no words, the shipped ones hold
                    model.sentence = self.shipped().sentence
                log.info("assassin model: using %s (%s)", path, model.version)
            except StoreError as exc:
                log.error("%s; scoring with the previous model", exc)
                previous = seen[1] if seen else None
                self._site[path] = (key, previous)
                return previous or self.shipped()
            self._site[path] = (key, model)
            return model
