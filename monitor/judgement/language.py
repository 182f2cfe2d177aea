"""Which language a post is in, when its source did not say.

VADER reads English only, so a post in another language must be stored unscored with the
reason, never quietly called apathetic. py3langid (a naive Bayes model shipped in the package,
offline) decides; since it costs ~50 µs a text, a cheap test first settles the common case: an
ASCII text with several English function words is English. A short text is where both go
wrong ("Globex est nul" has no English word and too few letters for certainty), so a short text
with a common French, German, Spanish, Italian, Portuguese, Dutch or Swedish function word, or
with letters beyond ASCII, is asked about, and there:

- another language at ``MIN_CONFIDENCE`` or more is that language;
- another language at ``UNSURE`` or more, with no English function word, is ``und``
  (undetermined): stored unscored as "language uncertain", not misread as an English shrug;
- anything else stays unknown (None) and is scored as English: a wrong "not English" would
  silence a real complaint ("Globex sucks" is no language py3langid knows well).
"""

from __future__ import annotations

import hashlib
import io
import lzma
import os
import shutil
import threading
from pathlib import Path

_ENGLISH = frozenset(
    "the a an and or but is are was were be been i you he she it we they my your our their this that "
    "to of in on for with not no have has had do does did can can't don't won't just so at from "
    "what why how who when if will would should could again about after all any anyone else very "
    "new today week last keep keeps still get got really now out up me us".split()
)
# Function words of the languages posts come in most besides English, none an English word: a
# short text with one of them is worth asking py3langid about (a short one without is not).
_FOREIGN = frozenset(
    "est les des une et pas je tu il elle nous vous ils très mais pour avec dans ist nicht und der das ein eine "
    "ich sie wir auf für sehr aber los las que por una muy pero para è di che molto ma het een niet zijn ik maar "
    "não muito mas com uma och är inte jag".split()
)
MIN_CONFIDENCE = 0.9
UNSURE = 0.4
UNDETERMINED = "und"  # ISO 639-2's code for a language that cannot be determined
MIN_CHARACTERS = 12
SHORT_WORDS = 8


class LanguageDetector:
    """Detects a text's ISO 639-1 language, or None when unsure. The model (~0.3 s and numpy to
    load) is loaded the first time a text needs it: English settled by the cheap test never does."""

    def __init__(self) -> None:
        self._loaded = None
        self._lock = threading.Lock()

    @property
    def _model(self):
        if self._loaded is None:
            with self._lock:  # scheduler threads share one detector: load it once
                if self._loaded is None:
                    self._loaded = _identifier()
        return self._loaded

    def detect(self, text: str) -> str | None:
        """``en``, ``fr``, ``ja``…, or None for a text too short or too mixed to tell."""
        sample = text[:2000]
        words = sample.lower().split()  # "it," is missed; the rest of the sentence still counts
        short = len(words) <= SHORT_WORDS
        if sample.isascii():
            need, found = min(3, max(1, len(words) // 3)), 0
            for word in words:
                if word in _ENGLISH:
                    found += 1
                    if found >= need:
                        return "en"
        else:
            found = sum(word in _ENGLISH for word in words)
        if short:
            if sample.isascii() and _FOREIGN.isdisjoint(words):
                return None  # nothing says it is not English: too little to tell, scored as English
            language, confidence = self._model.classify(sample)
            if language == "en" or found:
                return "en" if found else None
            if confidence >= MIN_CONFIDENCE:
                return language
            return UNDETERMINED if confidence >= UNSURE else None
        if len(sample.strip()) < MIN_CHARACTERS:
            return None
        language, confidence = self._model.classify(sample)
        return language if confidence >= MIN_CONFIDENCE else None


def _identifier():
    """py3langid's model, read from an unpacked copy in the user's cache folder when one can be
    kept there: the package ships it as LZMA-packed arrays, and unpacking them took 0.4 of its
    0.7 s to load on every command that met a text needing it; the copy's arrays are mapped, not
    read (0.05 s). The copy is named by the packed file's sha256, so another py3langid version
    unpacks its own; with no folder to write in, the package's loader reads it as before."""
    import numpy as np
    from py3langid import modelio
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    unpacked = _unpacked(MODEL_DIR / MODEL_FILE)
    if unpacked is None:
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    try:  # what modelio.load_model reads, in its order
        data = {name: np.load(unpacked / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in _ARRAYS}
        return LanguageIdentifier(np.asarray(data["ptc"]), np.asarray(data["pc"]), data["classes"].tolist(),
                                  modelio._to_array(data["nextmove"]), data["out_feat"].tolist(), norm_probs=True,
                                  tk_row=modelio._to_array(data["nextmove_row"]))
    except (OSError, ValueError):  # a damaged copy: gone, and read from the package
        shutil.rmtree(unpacked, ignore_errors=True)
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")


def cache_folder() -> Path:
    """Where the monitor keeps what it can rebuild: ``$XDG_CACHE_HOME/reputation-monitor``
    (``~/.cache/reputation-monitor``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reputation-monitor"


def _unpacked(packed: Path) -> Path | None:
    """The folder of ``packed``'s arrays (one ``.npy`` each), made now if missing (written aside,
    then renamed into place, so a reader never sees half of it); None where the cache folder
    cannot be written."""
    import numpy as np

    data = packed.read_bytes()
    try:
        target = cache_folder() / f"py3langid-{hashlib.sha256(data).hexdigest()[:16]}"
    except RuntimeError:  # no home folder to be found (a container's user without one) and no XDG_CACHE_HOME
        return None
    if target.is_dir():
        return target
    aside = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        aside.mkdir(parents=True)
        with np.load(io.BytesIO(lzma.decompress(data)), allow_pickle=False) as arrays:
            for name in _ARRAYS:
                np.save(aside / f"{name}.npy", arrays[name], allow_pickle=False)
        aside.rename(target)
    except OSError:
        shutil.rmtree(aside, ignore_errors=True)
        return target if target.is_dir() else None  # (another process may have put its copy in place first)
    return target
