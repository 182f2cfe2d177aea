"""The assassin call: is this a hurt customer speaking, rather than a text with negative words?

VADER's compound says how negative the words are. A hurt customer also talks about their own
experience ("I", "my", "we"), about leaving or getting money back (cancel, refund, switching to,
never again, scam), about being ignored ("still waiting", "no reply", "thanks for nothing"),
often politely ("please help"), with intensity (capitals, "!!"), and the negativity sits next to
the brand's name. A news headline has negative words but none of that. Each cue is a feature;
a logistic combination gives ``assassin_score`` in [0, 1], and the cues that fired are the reasons.
The weights were fitted on a tuning split of labelled data (``benchmarks/sentiment_eval.py --fit``)
and are evaluated on a held-out split; the README cites the figures.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# Complaint and churn intent: the customer wants out, or wants their money back.
_CHURN_WORDS = (
    r"cancel(?:l?ed|l?ing|lation)?|refund(?:ed|s)?|chargeback|switch(?:ed|ing)? (?:to|from)|mov(?:ed|ing) (?:to|away)|"
    r"leaving|left for|never again|never (?:buy|use|using|recommend)|scam(?:med|mers?)?|fraud|rip-?off|ripped off|"
    r"waste of (?:money|time)|don'?t buy|avoid(?:ing)?|unsubscrib\w*|lawsuit|sue|report(?:ing)? (?:you|them)|"
    r"worst|done with|fed up|sick of|last straw|good ?bye"
)
# Service failure and being ignored, including the polite forms VADER reads as positive.
_GRIEVANCE_WORDS = (
    r"still waiting|no (?:response|reply|answer|help|one)|never (?:responded|replied|answered|arrived|came)|"
    r"thanks? (?:for nothing|a lot)|please (?:help|fix|respond|reply|answer)|help me|fix (?:this|it)|"
    r"(?:doesn'?t|does not|didn'?t|won'?t|not|stopped|isn'?t|can'?t|cannot|unable to) (?:work|working|load|connect|log ?in|"
    r"sign ?in|open|charge|sync|respond|get|access|reach)|"
    r"broken|broke|crash(?:es|ed|ing)?|outage|down again|is down|keeps? (?:crashing|failing|dropping)|"
    r"(?:is|was|got|been|are|were) (?:lost|missing|late)|(?:lost|missing|late|broken|down) again|charged (?:me )?twice|overcharg\w*|double charg\w*|lost (?:my|our|all)|deleted (?:my|our)|locked out|"
    r"on hold|hours? (?:on|waiting|later)|days? (?:later|waiting)|weeks? (?:later|waiting)|"
    r"customer (?:service|support)|support (?:team|ticket)|ticket|delayed|cancelled my|where is my|"
    r"why (?:is|does|can'?t|won'?t)|what'?s (?:wrong|going on)|ridiculous|unacceptable|disappoint\w*|"
    r"terrible|horrible|awful|useless|pathetic|joke|fail(?:ed|s|ing)?|sucks?|hate"
)
_FIRST_PERSON_WORDS = r"i|i'?m|i'?ve|i'?d|i'?ll|me|my|mine|we|we'?re|we'?ve|our|us"
# Reporting verbs of news and press copy, written about a company rather than to it.
_NEWS_WORDS = (
    r"says?|said|reports?|reported|announc\w+|according to|shares|stocks?|analysts?|investors?|quarter|revenue|"
    r"earnings|ceo|launch(?:es|ed)?|unveil\w*|rumou?r\w*|opens?|acquir\w+|lawsuit against|court"
)
# One scan of the lower-cased text finds every cue (case-folding in the regex engine costs 3×).
_CUES = re.compile(
    # (?=[a-z]): every cue starts with a letter; failing fast elsewhere saves a fifth of the scan.
    r"(?<![\w'])(?=[a-z])(?:(?P<churn>" + _CHURN_WORDS + r")|(?P<grievance>" + _GRIEVANCE_WORDS + r")|(?P<first_person>"
    + _FIRST_PERSON_WORDS + r")|(?P<news>" + _NEWS_WORDS + r"))(?![\w'])"
)
_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")


@dataclass(frozen=True)
class Weights:
    """Logistic weights of the cues, fitted by ``benchmarks/sentiment_eval.py --fit`` on the tuning half.

    Capitals and "!" came out slightly negative: in the labelled sets they mark delight as often
    as anger, so intensity alone is no evidence of a hurt customer.
    """

    bias: float = -1.09
    negativity: float = 1.82  # -compound without courtesy words, clipped to [0, 1]
    positivity: float = -1.73  # the same, positive side
    churn: float = 0.44
    grievance: float = 0.84
    first_person: float = 0.73  # only together with negative evidence
    intensity: float = -0.18
    brand_negative: float = 0.58
    news: float = -0.4


DEFAULT_WEIGHTS = Weights()
# The F1-best cut on the tuning half; see the README's evaluation table.
DEFAULT_THRESHOLD = 0.25


def cues(text: str) -> dict[str, list[str]]:
    """The phrases of each cue found in ``text`` (lower-cased)."""
    found: dict[str, list[str]] = {"churn": [], "grievance": [], "first_person": [], "news": []}
    for match in _CUES.finditer(text.lower()):
        found[match.lastgroup].append(match.group(0))
    return found


def features(
    text: str, compound: float, *, brand_compound: float | None = None, found: dict[str, list[str]] | None = None,
    tone: float | None = None,
) -> dict[str, float]:
    """The cues of one text, each in [0, 1] (``found``: its ``cues``, if already known).

    ``tone`` is the compound as the call reads it (``sentiment.Reading.tone``): "please",
    "thanks", "help"… left out (a polite complaint is no less a complaint), praise slang left out
    next to praise emoji, never positive after a sarcasm marker.
    """
    found = cues(text) if found is None else found
    tone = compound if tone is None else tone
    words = max(1, len(text.split()))
    caps = len(_CAPS_WORD.findall(text))
    return {
        "negativity": max(0.0, -tone),
        "positivity": max(0.0, tone),
        # Shouting: capitalised words, "!" or "??".
        "intensity": min(1.0, caps / max(3.0, words / 4) + (0.5 if "!" in text or "??" in text else 0.0)),
        "churn": min(1.0, float(len(found["churn"]))),
        "grievance": min(1.0, len(found["grievance"]) / 2.0),
        # "I" alone is no complaint: first person counts together with some negative evidence.
        "first_person": 1.0 if found["first_person"] and (tone < 0 or found["churn"] or found["grievance"]) else 0.0,
        "brand_negative": max(0.0, -brand_compound) if brand_compound is not None else 0.0,
        "news": 1.0 if found["news"] and not found["first_person"] else 0.0,
    }


def score_features(values: dict[str, float], weights: Weights = DEFAULT_WEIGHTS) -> float:
    """assassin_score in [0, 1] from the cues; 0 when nothing negative was found at all.

    Without that floor a neutral post ("I use Acme for my photos") would sit at the bias's
    probability, a hair from the threshold, and any harmless cue could tip it over.
    """
    if not (values["negativity"] or values["churn"] or values["grievance"] or values["brand_negative"]):
        return 0.0
    z = weights.bias
    for name, value in values.items():
        if value:
            z += getattr(weights, name) * value
    return 1.0 / (1.0 + math.exp(-z))


_LABELS = {
    "negativity": "negative wording",
    "churn": "complaint or churn intent",
    "grievance": "service failure or being ignored",
    "first_person": "first-person experience",
    "intensity": "intensity (capitals or !)",
    "brand_negative": "negative next to the brand's name",
}


def reasons_for(
    text: str, compound: float, values: dict[str, float], weights: Weights = DEFAULT_WEIGHTS,
    found: dict[str, list[str]] | None = None,
) -> list[str]:
    """The cues that raised the score, strongest first, in words an alert can show."""
    found = cues(text) if found is None else found
    raised = sorted(
        ((getattr(weights, k) * v, k) for k, v in values.items() if k in _LABELS and getattr(weights, k) * v >= 0.1),
        reverse=True,
    )
    out = []
    for _, name in raised:
        label = _LABELS[name]
        if name == "negativity":
            label += f" (compound {compound:+.2f})"
        elif name in ("churn", "grievance"):
            label += ": " + ", ".join(sorted(set(found[name]))[:4])
        out.append(label)
    return out


def cue_phrases(found: dict[str, list[str]]) -> list[str]:
    """The complaint and service-failure phrases a text holds, in words an alert can show (what
    the learned layer's reasons are followed by)."""
    return [f"{_LABELS[name]}: " + ", ".join(sorted(set(found[name]))[:4]) for name in ("churn", "grievance") if found[name]]
