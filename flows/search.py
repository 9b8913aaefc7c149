"""Find the process a user means from their own words.

The index is built once per catalog generation from every flow's name, aliases, keywords, choice
options, summary, step titles, field labels and unit. A question is normalised (full-width to
half-width, lower case, no punctuation), the quantities and dates it states are set aside (they
are answers, not topic words), and it is segmented with a private jieba tokenizer that knows the
catalog's names, aliases and keywords.

Each flow earns *credit* on the characters of the question it explains:

- a name or alias found in the question — whole, with its words apart (公众号…变更), or with a
  typo (edit distance, only where the typed word is no word of its own) — strongest;
- a keyword or choice option found in the question — weaker, and weaker still when many flows
  share it (学生, 宿舍);
- a piece of a name/alias/keyword (资产管理 in 资产管理系统) — scaled by how much of the term it is
  and how rare the piece is across the catalog; only whole words of the question count;
- a jieba word of the question that occurs in the summary, a step title, a field label or the
  unit — weakest.

Times, places and people's names (下周, 北京, 张老师; jieba's part-of-speech tags) and question
words are not what a question is about and do not count; audience words (老师, 学生) count half.

General campus words have synonyms (借/借用/预约, 坏了/故障, 老师/教师 …): the index holds variants
of the terms with the synonyms put in. A flow's *score* is the share of the question's content
(its words less question words such as 怎么、在哪里、需要) it explains, weighted by the credit:
0 explains nothing, 1 explains everything with names and aliases. The score is the confidence;
`find` turns the ranking into an answer: one confident match, a few close candidates to choose
from, or nothing (the question is outside the catalog).

Typos of the same sound (请价, 集团好, 录拨教室; flows/sounds.py) are put right before the
question is read, at a little less credit than the word itself. Counts (几条, 一台), the unit
that asks (研究所) and an unknown thing right after an act (买…显微镜) weigh little.

A second opinion (flows/ngrams.py): when nothing is plausible on its words, the best candidate
is still offered as the likely process if the question's character pairs rank the same flow
first, well ahead (官网上 is 官|网上 to the segmenter; its pairs are the website's).

Role-aware: among candidates that explain the question about equally well, or that explain all
the key words of the best one, the one whose audience fits the asker's most specific role wins (a
department head's 请假 is 部门主要负责人个人外出请销假); words naming someone else (学生请假) win
over the asker's role; a title the asker states (我是附小校长; flows/titles.py) stands for the
directory's roles in this choice.

Calibration (benchmarks/guide_qa.py, docs/benchmarks.md): a process is offered only with a name or
alias in the question, or when its related words explain most of it or several of its words;
it is answered directly only when it also stands clearly ahead — related words alone never win
directly over a process whose name or alias is in the question.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from typing import Any, Literal

import jieba
import jieba.posseg

from flows.catalog import Catalog
from flows.definition import FlowDefinition
from flows.ngrams import PairIndex
from flows.prefill import stated_answers
from flows.sounds import differing, readings, sounds_alike
from flows.stated import DATE_WORDS, QUANTITY, TIME_WORDS
from flows.titles import stated_roles
from flows.validation import ANYONE
from flows.vocabulary import (
    ACTS_ON_OBJECTS,
    APPLY_ACTS,
    APPLY_STARTS,
    MEASURES,
    PAYING,
    PLACES,
    QUESTION_MARKERS,
    SOFT_WORDS,
    STOP_WORDS,
    SYNONYMS,
    WHEN,
    WISHES,
    everyday_synonyms,
    plain_phrasing,
)

log = logging.getLogger("campusbot.search")

# ---- weights and thresholds (calibrated on benchmarks/data/guide_dev.tsv and the tests) ---------
NAME_WEIGHT = 1.0
ALIAS_WEIGHT = 1.0
KEYWORD_WEIGHT = 0.75
OPTION_WEIGHT = 0.7
COMMON_DISCOUNT = 0.4       # a keyword or option found in every flow counts this much less
TEXT_WEIGHT = 0.4           # a word of the summary, a step title, a field label, the unit
SYNONYM_FACTOR = 0.95       # a term with a general synonym put in
FUZZY_FACTOR = 0.8          # a name or alias typed with a typo
UNSOUND_FACTOR = 0.75       # … with a character of another sound (付学 as 休学)
SOUND_FACTOR = 0.8          # a term typed with characters of the same sound (请价, 集团好)
MAX_SOUND_TERM = 10         # longer terms are not looked up by sound
UNALIGNED_FACTOR = 0.7      # a term found inside a longer word of the question
APART_FACTOR = 0.9          # a term whose words are in the question with others between them
MAX_GAP = 6                 # … at most this many characters between them
COMMON_WORD = 20            # jieba corpus count from which a word is an everyday word (请假)
SHIFT_TYPO_LENGTH = 6       # from this length a typo may also add or drop a character
MIN_FUZZY_LENGTH = 3        # shorter terms are not matched with typos (too many false friends)
MIN_EXPLAINED = 0.3         # credit from which a word of the question counts as explained
UNANCHORED_FACTOR = 0.6     # no term found whole (only pieces and summary words): weak evidence
SUBWORD_FACTOR = 0.7        # a catalog word inside a longer word of the question (抑郁症)
EVERYDAY_LOG = 5.5          # a word the catalog does not use weighs (5.5 - log10 count) / 2:
EVERYDAY_SPAN = 2.0         # 说 (220,000 in jieba's corpus) 0.15, 换 (6,500) 0.85, 开饭 1
EVERYDAY_MIN = 0.15
TOPICAL_MIN = 0.75          # a question with no word this weighty is about nothing (怎么申请)

CONFIDENT = 0.55            # a single best match at least this good is answered directly
LONE_WORD_CONFIDENT = 0.7   # … this good when one keyword (no name or alias) is all it explains
LIST_MIN = 0.3              # below this nothing is offered: the question is outside the catalog
WEAK_MIN = 0.52             # … nor below this when no name or alias of the flow is in it
CLOSE_RATIO = 0.8           # a runner-up this close to the best makes the answer ambiguous
CLEAR_MIN = 0.5             # … a name or alias explaining this much, with the runner-up
CLEAR_RATIO = 0.5           # below this share of the best, is also a confident answer
TAKEOVER_MIN = 0.3          # … or explain all its key words and are at least this close
DEMOTED_SHARE = 0.45        # variants beaten on the role score at most this share of the winner
UNFIT_BAND = 0.4            # … or this close, when the best is not open to the asker at all
ROLE_BAND = 0.6             # candidates this close compete on the asker's role
MAX_CANDIDATES = 5
ALONE_MIN = 0.35            # the best alone, anchored, from this score and with the runner-up
ALONE_RATIO = 0.5           # … at most this share of it, is offered as the likely process
SECONDED_MIN = 0.2          # a candidate this good, anchored, may be seconded by the pairs
SECONDED_LEAD = 1.5         # … when they rank it first, this many times the runner-up
SECONDED_PAIRS = 2          # … on at least this many of the question's pairs
SHOWN_SHARE = 0.6           # candidates listed when unsure: at least this share of the best

#: how specific a role is: the more specific role's process wins among comparable candidates
ROLE_SPECIFICITY = {
    "affiliated_deputy": 3, "affiliated_head": 3, "dept_head": 3, "school_leader": 3,
    "cadre": 2, "counselor": 2, "club_leader": 2,
    "teacher": 1, "staff": 1, "student": 1,
}

SOFT_WEIGHT = 0.5
#: jieba tags of incidental words: time (下周), place (北京), person (张老师)
INCIDENTAL_TAGS = frozenset(("t", "ns", "nr", "nrt", "nrfg", "m", "q", "mq"))

_PUNCTUATION = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")
_FILLER = re.compile(r"(?<=^.)个|一下")        # 放个展板, 看一下监控
#: 个 after a one-character verb in a question (改个名, 开个号, 挂个横幅): filler
_VERB_FILLER = re.compile(r"(?<=[改开请挂拉贴放借录建换注买订办装拍发])个(?![人性])")
_PARENTHESIS = re.compile(r"[（(].*?[)）]")
_ASCII = re.compile(r"[0-9a-z]")

_jieba_lock = threading.Lock()


# ---- results ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Match:
    definition: FlowDefinition
    score: float
    #: a name or alias of the flow is in the question (whole, most of it, or with a typo)
    strong: bool = False
    #: at least a keyword or option of the flow is in the question whole
    anchored: bool = False
    #: … and one of them is a whole word of the question (考试 is not one in 期末考试)
    aligned: bool = False
    #: the words of the question it explains, and those of them a name or alias explains
    words: frozenset[str] = frozenset()
    strong_words: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Answer:
    """What the index makes of a question.

    `status` is "confident" (answer with `matches[0]`), "likely" (one candidate, not sure:
    answer with it and say so), "ambiguous" (ask which of `matches` was meant, two or more) or
    "unknown" (outside the catalog; `matches` is empty)."""

    status: Literal["confident", "likely", "ambiguous", "unknown"]
    matches: tuple[Match, ...]
    apply: bool

    @property
    def best(self) -> FlowDefinition | None:
        return self.matches[0].definition if self.matches else None


# ---- text ---------------------------------------------------------------------------------------
def normalize(text: str) -> str:
    """Full-width to half-width, lower case, no spaces or punctuation."""
    return _PUNCTUATION.sub("", unicodedata.normalize("NFKC", text).lower())


def strip_values(text: str) -> str:
    """The normalised question without the dates and quantities it states (请3天病假 → 请病假),
    colloquial fault phrasing put plainly (打不出来 → 坏了)."""
    plain = plain_phrasing(DATE_WORDS.sub("", unicodedata.normalize("NFKC", text)))
    plain = MEASURES.sub("", QUANTITY.sub("", TIME_WORDS.sub("", plain)))
    return normalize(_VERB_FILLER.sub("", plain))


def word_weight(word: str) -> float:
    if word in STOP_WORDS:
        return 0.0
    if word in SOFT_WORDS:
        return SOFT_WEIGHT
    return 1.0


def levenshtein(first: str, second: str) -> int:
    """Edit distance (insertions, deletions, substitutions) between two short strings."""
    previous = list(range(len(second) + 1))
    for i, char in enumerate(first, 1):
        current = [i]
        for j, other in enumerate(second, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (char != other)))
        previous = current
    return previous[-1]


def synonym_variants(term: str) -> list[str]:
    """The term with a general word swapped for each of its synonyms (借剧院 → 预约剧院)."""
    variants: list[str] = []
    for group in SYNONYMS:
        for word in sorted(group, key=len, reverse=True):
            if len(word) == 1 and not (term.startswith(word) or term.endswith(word)):
                continue            # 借 in 借剧院 is the verb; 修 in 免修 is not 维修
            if word in term:
                variants += [term.replace(word, other, 1) for other in group if other != word]
                break
    return [v for v in dict.fromkeys(variants) if v != term]


def _variants(term: str) -> list[tuple[str, float]]:
    """Other ways of typing a term: without filler (放个展板 → 放展板), with synonyms."""
    plain = _FILLER.sub("", term)
    shorter = [(plain, 1.0)] if plain != term and len(plain) >= 2 else []
    return shorter + [(variant, SYNONYM_FACTOR) for variant in synonym_variants(term)]


@lru_cache(maxsize=1)
def _pos_tagger() -> jieba.posseg.POSTokenizer:
    return jieba.posseg.POSTokenizer(_base_tokenizer())


@lru_cache(maxsize=1)
def _base_tokenizer() -> jieba.Tokenizer:
    """One private tokenizer per process: jieba's bundled dictionary, nothing downloaded."""
    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


# ---- the index ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Term:
    flow: int
    text: str
    weight: float
    strong: bool            # a name or alias (may be matched with a typo)
    whole_only: bool = False    # a synonym variant: counts only when found whole
    parts: tuple[str, ...] = ()     # its words, when it has several (公众号|变更)


@dataclass
class _Query:
    text: str
    words: list[tuple[int, int, float]]          # (start, end, weight) of each jieba word
    content: float                               # total weight of the question's content
    #: spans typed with characters of the same sound, put right (请价 → 请假)
    corrected: list[tuple[int, int]] = field(default_factory=list)

    def topical(self) -> bool:
        return any(weight >= TOPICAL_MIN for _, _, weight in self.words)

    def char_weights(self) -> list[float]:
        weights = [0.0] * len(self.text)
        for start, end, weight in self.words:
            for position in range(start, end):
                weights[position] = weight
        return weights


@dataclass
class _Built:
    definitions: list[FlowDefinition]
    terms: list[_Term] = field(default_factory=list)
    pieces: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    piece_rarity: dict[str, float] = field(default_factory=dict)
    words: dict[str, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    known: set[str] = field(default_factory=set)
    max_term: int = 2
    #: (length, a reading of the first character) → the terms that sound so
    sounds: dict[tuple[int, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    pairs: PairIndex = field(default_factory=lambda: PairIndex(()))


class GuideIndex:
    """Searches the catalog's current definitions; rebuilt when the catalog is reloaded."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._built: _Built | None = None
        self._generation = -1
        self._lock = threading.Lock()

    # ---- building -------------------------------------------------------------------------------
    def _index(self) -> _Built:
        built = self._built
        if built is None or self._generation != self.catalog.generation:
            with self._lock:
                if self._built is None or self._generation != self.catalog.generation:
                    generation = self.catalog.generation
                    self._built = _build_shared(self.catalog.all())
                    self._generation = generation
                built = self._built
        return built

    def warm_up(self) -> None:
        """Build the index, and load the word segmenter, now rather than on the first
        question."""
        self._index()
        self.find("我想下周一请3天病假", ("teacher",))

    # ---- searching ------------------------------------------------------------------------------
    def search(self, text: str, roles: Collection[str] = (),
               only: Collection[str] | None = None) -> list[Match]:
        """Every flow that explains part of the question, best first, the asker's role applied;
        `only`: the ids of the flows the asker may see (all when None)."""
        built = self._index()
        return self._search(built, _parse_query(text, built), stated_roles(text) or roles, only)

    @staticmethod
    def _search(built: _Built, query: _Query, roles: Collection[str],
                only: Collection[str] | None) -> list[Match]:
        if not query.topical():
            return []           # 怎么申请, 老师你好: nothing says what it is about
        matches = [m for m in _score(built, query) if only is None or m.definition.id in only]
        ranked = sorted(matches, key=lambda m: (-m.score, m.definition.name))
        return _prefer_roles(ranked, roles)

    def find(self, text: str, roles: Collection[str] = (),
             only: Collection[str] | None = None) -> Answer:
        """The answer to a question: one confident match, close candidates, or nothing."""
        apply = self.is_apply_intent(text)
        built = self._index()
        query = _parse_query(text, built)
        # 我是院长: the title the asker states picks the variant (applying goes by the directory)
        roles = stated_roles(text) or roles
        ranked = _names_first(self._search(built, query, roles, only))
        plausible = [m for m in ranked if _plausible(m) or _alone(m, ranked)]
        if not plausible:
            seconded = _seconded(built, query, ranked)
            if seconded is not None and not (_elsewhere(text) and not seconded.strong):
                return Answer("likely", (seconded,), apply)
            return Answer("unknown", (), apply)
        named = _named_in(text, ranked)
        if named is not None:           # its full name beats related words and the role
            return Answer("confident", (named,), apply)
        best = plausible[0]
        # a time to look up or a payment is answered directly only by a process it names
        sure = (_named_in(text, [best]) is not None or not _elsewhere(text)) and _enough_words(best)
        if sure and _confident(best, [m for m in ranked if m is not best]):
            return Answer("confident", (best,), apply)
        # when asking anyway, a close runner-up is offered even on thinner evidence
        shown = [m for m in ranked if m.score >= best.score * SHOWN_SHARE and (
            _plausible(m) or (m.anchored and m.score >= best.score * CLOSE_RATIO))]
        shown = sorted(shown, key=lambda m: m is not best)[:MAX_CANDIDATES]
        if _elsewhere(text) and not any(m.strong for m in shown):
            # 校医院几点上班, 校园网怎么充值: a time to look up or a payment, and no name
            return Answer("unknown", (), apply)
        if len(shown) == 1:
            return Answer("likely", (best,), apply)
        return Answer("ambiguous", tuple(shown), apply)

    @staticmethod
    def is_apply_intent(text: str) -> bool:
        """我要报修电脑 / 帮我预约录播教室 / 下周一开始请6天事假 ask to apply; 怎么申请 / 在哪里办 /
        找谁 ask about it; 电脑坏了 / 校领导请假 only name it."""
        cleaned = unicodedata.normalize("NFKC", text).strip()
        if any(marker in cleaned for marker in QUESTION_MARKERS):
            return False
        if cleaned.startswith(APPLY_STARTS):
            return True
        act = APPLY_ACTS.search(cleaned)
        if act is None:
            return False
        # the asker wants it (我…帮我报修), or states what to fill in (明天请2天假)
        return bool(WISHES.search(cleaned[:act.start()]) or DATE_WORDS.search(cleaned)
                    or QUANTITY.search(cleaned))

    @staticmethod
    def prefill(definition: FlowDefinition, text: str, today: date) -> dict[str, Any]:
        """The answers a sentence states (see flows/prefill.py)."""
        return stated_answers(definition, text, today)


def _elsewhere(text: str) -> bool:
    """Asks when something happens or how to pay: answered elsewhere, unless a process is named."""
    return bool(WHEN.search(text) or PAYING.search(text))


def _seconded(built: _Built, query: _Query, ranked: list[Match]) -> Match | None:
    """The search's best candidate, too weak to offer on its own words, offered as the likely
    process when the character pairs of the question pick the same flow, well ahead of the rest,
    on more than one pair (官网上的电话写错了: 官网 is no word of the question for the segmenter,
    but its pairs are the website's). A place alone (南校区 in 去南校区的校车) seconds nothing."""
    top = ranked[0] if ranked else None
    if top is None or top.score < SECONDED_MIN or not top.anchored:
        return None
    if all(PLACES.search(word) for word in top.words):
        return None
    question = _content_pairs(query, built)
    ranking = built.pairs.rank(question)
    best = ranking.best()
    if best is None or built.definitions[best].id != top.definition.id:
        return None
    shared = sum(1 for pair in set(question) if pair in built.pairs.counts[best])
    return top if ranking.lead() >= SECONDED_LEAD and shared >= SECONDED_PAIRS else None


def _content_pairs(query: _Query, built: _Built) -> list[str]:
    """The character pairs of the question's content: no question words or fillers, and no
    place the catalog does not name (体育馆 says where, not what: 体育 is a course's word)."""
    weights = query.char_weights()
    for start, end, _ in query.words:
        word = query.text[start:end]
        if PLACES.search(word) and word not in built.pieces:
            weights[start:end] = [0.0] * (end - start)
    found = []
    for position in range(len(query.text) - 1):
        if weights[position] > 0 and weights[position + 1] > 0:
            found.append(query.text[position:position + 2])
    return found


def _named_in(text: str, ranked: list[Match]) -> Match | None:
    """The process whose full name the question says, the longest if several
    (新媒体公共账号变更备案怎么办理 is that one, not 新媒体公共账号备案)."""
    question = strip_values(text)
    named = [m for m in ranked if normalize(m.definition.name) in question]
    return max(named, key=lambda m: len(m.definition.name)) if named else None


def _names_first(ranked: list[Match]) -> list[Match]:
    """A process whose name or alias is in the question goes ahead of one that only shares
    related words with it and scores at most a little more (挂条幅 at 食堂门口 is 宣传阵地)."""
    if not ranked or ranked[0].strong:
        return ranked
    best = ranked[0]
    named = next((m for m in ranked if _named_beyond(m, best)
                  and m.score >= best.score * CLOSE_RATIO), None)
    if named is None:
        return ranked
    return [named, *(m for m in ranked if m is not named)]


def _named_beyond(match: Match, other: Match) -> bool:
    """A name or alias of `match` explains a word that `other` does not explain at all: 抖音号
    is a piece of the alias 开抖音号, but also a keyword of the change of an account, so in
    抖音号不用了要注销 it is no name evidence over that one."""
    return match.strong and bool(match.strong_words - other.words)


def _alone(match: Match, ranked: list[Match]) -> bool:
    """Worth offering on its own: the best, a keyword of it in the question whole, and nothing
    else near (打印机打不出来: IT报修 and no other process)."""
    if match is not ranked[0] or not match.aligned or match.score < ALONE_MIN:
        return False
    runner_up = ranked[1].score if len(ranked) > 1 else 0.0
    return runner_up <= match.score * ALONE_RATIO


def _plausible(match: Match) -> bool:
    """Worth offering: a name or alias of it is in the question, or its keywords and options
    explain most of the question, or several words of it (打印机 and 卡纸) — a lone keyword
    among other words (英语四级报名) is not enough."""
    if match.score >= (LIST_MIN if match.strong else WEAK_MIN):
        return True
    topical = [word for word in match.words if len(word) >= 2 and word_weight(word) == 1.0]
    return match.anchored and match.score >= LIST_MIN and len(topical) >= 2


def _enough_words(match: Match) -> bool:
    """Evidence for a direct answer: a name or alias of it, several of its words, or one word
    that is nearly the whole question (休学手续). One keyword among words it does not explain
    (这个月工资怎么少了两百, 英语四级多少分算过) is offered as the likely process, not answered."""
    return match.strong or len(match.words) >= 2 or match.score >= LONE_WORD_CONFIDENT


def _confident(best: Match, others: list[Match]) -> bool:
    """Sure enough to answer directly: it explains most of the question and nothing else comes
    close; or a name or alias of it explains a good part and it is far ahead of the rest. Related
    words alone never win over a process whose name or alias is in the question."""
    runner_up = max((m.score for m in others), default=0.0)
    if not best.strong and any(_named_beyond(m, best) and m.score >= best.score * CLEAR_RATIO
                               for m in others):
        return False
    if best.score >= CONFIDENT and runner_up < best.score * CLOSE_RATIO:
        return True
    return best.strong and best.score >= CLEAR_MIN and runner_up < best.score * CLEAR_RATIO


# ---- building the index -------------------------------------------------------------------------
def _flow_terms(definition: FlowDefinition) -> Iterator[tuple[str, float, bool, bool]]:
    """(text, weight, strong, with variants) of every term of the flow."""
    yield definition.name, NAME_WEIGHT, True, True
    for alias in definition.aliases:
        yield alias, ALIAS_WEIGHT, True, True
    for keyword in definition.keywords:
        yield keyword, KEYWORD_WEIGHT, False, True
    for item in definition.fields:
        if item.type == "choice":
            for option in item.options:
                core = _PARENTHESIS.sub("", option)
                if core and core != "其他":
                    # an option is a value of the form (教职工), not a way to say the process
                    yield core, OPTION_WEIGHT, False, False


def _flow_text(definition: FlowDefinition) -> Iterator[str]:
    """The flow's own sentences: what it is, its steps with their notes and materials, its
    questions with their hints, what its platform can do."""
    yield definition.summary
    yield definition.unit
    for step in definition.steps:
        yield step.title
        yield step.notes
        yield from step.materials
    for item in definition.fields:
        yield item.label
        yield item.hint
    if definition.platform is not None:
        yield from definition.platform.can_do


_SHARED: dict[tuple[Any, ...], _Built] = {}
_SHARED_MAX = 4


def _build_shared(definitions: list[FlowDefinition]) -> _Built:
    """The index of these definitions, built once per process for the same words: an app
    started again (tests, a restart of the services) reuses it with its own definitions."""
    key = tuple((d.id, tuple(_flow_terms(d)), tuple(_flow_text(d))) for d in definitions)
    built = _SHARED.get(key)
    if built is None:
        built = _build(definitions)
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.pop(next(iter(_SHARED)))
        _SHARED[key] = built
    return replace(built, definitions=list(definitions))


def _build(definitions: list[FlowDefinition]) -> _Built:
    built = _Built(definitions=list(definitions))
    _add_user_words(definitions)
    for number, definition in enumerate(built.definitions):
        terms = [(normalize(raw), weight, strong, expand)
                 for raw, weight, strong, expand in _flow_terms(definition)]
        originals = [_Term(number, text, weight, strong, parts=_term_parts(text))
                     for text, weight, strong, _ in terms if text]
        variants = [_Term(number, variant, weight * factor, strong, True)
                    for text, weight, strong, expand in terms if text and expand
                    for variant, factor in _variants(text)]
        seen: set[str] = set()
        for term in originals + variants:       # a term of the file wins over a variant
            if len(term.text) >= 2 and term.text not in seen:
                seen.add(term.text)
                built.known.add(term.text)
                built.terms.append(term)
        _add_words(built, number, definition)
    _index_pieces(built)
    built.pairs = PairIndex(built.definitions)
    return built


def _add_user_words(definitions: Iterable[FlowDefinition]) -> None:
    tokenizer = _base_tokenizer()
    with _jieba_lock:
        for definition in definitions:
            for word in (definition.name, *definition.aliases, *definition.keywords):
                text = normalize(word)
                # 请病假 stays 请|病假, so the polite verb never hides the topic word
                if 2 <= len(text) <= 12 and not _ASCII.search(text) and text[0] not in STOP_WORDS:
                    tokenizer.add_word(text, freq=None)


def _cut(text: str) -> list[str]:
    tokenizer = _base_tokenizer()
    with _jieba_lock:
        return tokenizer.lcut(text, HMM=False)


def _tagged(text: str) -> list[tuple[str, str]]:
    """Words with jieba's part-of-speech tags (t time, ns place, nr person …)."""
    tagger = _pos_tagger()
    with _jieba_lock:
        return [(pair.word, pair.flag) for pair in tagger.lcut(text, HMM=False)]


def _term_parts(text: str) -> tuple[str, ...]:
    """The term's words, longest dictionary word first (jieba itself keeps 公众号变更 whole,
    as the catalog's words are added to its dictionary)."""
    parts: list[str] = []
    position = 0
    while position < len(text):
        longest = min(6, len(text) - position, len(text) - 1)
        size = next((n for n in range(longest, 1, -1)
                     if _is_dictionary_word(text[position:position + n])), 1)
        parts.append(text[position:position + size])
        position += size
    content = tuple(part for part in parts if word_weight(part) > 0)
    return content if len(content) > 1 and all(len(part) > 1 for part in content) else ()


def _is_dictionary_word(text: str, least: int = 1) -> bool:
    """In jieba's dictionary (at least `least` times in its corpus)."""
    return (_base_tokenizer().FREQ.get(text) or 0) >= least


def _add_words(built: _Built, number: int, definition: FlowDefinition) -> None:
    seen: set[str] = set()
    for sentence in _flow_text(definition):
        for word in _cut(normalize(sentence)):
            if len(word) >= 2 and word_weight(word) > 0 and word not in seen:
                seen.add(word)
                built.words[word].append((number, TEXT_WEIGHT))


def _index_pieces(built: _Built) -> None:
    flows_with: dict[str, set[int]] = defaultdict(set)
    for position, term in enumerate(built.terms):
        text = term.text
        built.max_term = max(built.max_term, len(text))
        if 2 <= len(text) <= MAX_SOUND_TERM:
            for reading in readings(text[0]):
                built.sounds[(len(text), reading)].append(position)
        if term.whole_only:
            built.pieces[text].append(position)
            continue
        pieces = {text[i:j] for i in range(len(text)) for j in range(i + 2, len(text) + 1)}
        for piece in pieces:
            built.pieces[piece].append(position)
            flows_with[piece].add(term.flow)
    for word, entries in built.words.items():
        flows_with[word].update(flow for flow, _ in entries)
    total = max(len(built.definitions), 2)
    built.piece_rarity = {piece: math.log(total / len(flows)) / math.log(total)
                          for piece, flows in flows_with.items()}
    built.terms = [replace(term, weight=term.weight * _commonness_factor(built, term))
                   for term in built.terms]


def _commonness_factor(built: _Built, term: _Term) -> float:
    """Keywords and options many flows share (学生, 宿舍, 病假) say less about which one."""
    if term.strong:
        return 1.0
    rarity = built.piece_rarity.get(term.text, 1.0)
    return 1 - COMMON_DISCOUNT * (1 - rarity)


# ---- scoring ------------------------------------------------------------------------------------
WEAK, STRONG = 1, 2         # evidence levels: a keyword or option whole; a name or alias


class _Credit:
    """Per flow, the best credit on each character of the question, and the evidence level."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rows: dict[int, list[float]] = {}
        self.strong_rows: dict[int, list[float]] = {}
        self.level: dict[int, int] = defaultdict(int)
        #: flows with a term that is a whole word (or words) of the question
        self.aligned: set[int] = set()

    def give(self, flow: int, start: int, end: int, weight: float, level: int = 0, *,
             loose: bool = False) -> None:
        """`loose`: found inside a longer word of the question, so no anchor of its own."""
        rows = [self.rows.setdefault(flow, [0.0] * self.size)]
        if level >= STRONG:
            rows.append(self.strong_rows.setdefault(flow, [0.0] * self.size))
        for row in rows:
            for position in range(start, end):
                row[position] = max(row[position], weight)
        self.level[flow] = max(self.level[flow], level)
        if level >= WEAK and not loose:
            self.aligned.add(flow)


def _parse_query(text: str, built: _Built) -> _Query:
    stripped = strip_values(text)
    tagged = _tagged(stripped)
    fixed, corrected = _correct_sounds(built, stripped, _spans(tagged))
    if corrected:
        tagged = _tagged(fixed)
    words: list[tuple[int, int, float]] = []
    position = 0
    act = False         # the last word that weighs anything is an act on an object (买, 报废)
    for word, flag in tagged:
        end = position + len(word)
        # a time, place or person (下周, 北京, 张老师) is not what the question is about
        incidental = flag in INCIDENTAL_TAGS and word not in built.known
        weight = 0.0 if incidental else word_weight(word)
        if weight == 1.0 and word not in built.pieces:
            weight = everyday_weight(word)      # only the flows' sentences use it, if any
            if PLACES.search(word) or act:
                # 体育馆, 教学楼: where, not what; 买…显微镜: the act decides, not the thing
                weight = min(weight, SOFT_WEIGHT)
        if weight > 0:
            act = word in ACTS_ON_OBJECTS
        words.append((position, end, weight))
        position = end
    return _Query(fixed, words, sum((e - s) * w for s, e, w in words), corrected)


def _spans(tagged: list[tuple[str, str]]) -> list[tuple[int, int]]:
    spans, position = [], 0
    for word, _ in tagged:
        spans.append((position, position + len(word)))
        position += len(word)
    return spans


def _correct_sounds(built: _Built, text: str,
                    spans: list[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """The question with terms typed by sound put right (请价 → 请假, 录拨教室 → 录播教室, 採访 →
    采访), and the spans put right. Only whole words of the question, longest first; at most a
    third of the characters (one in a short term) differ, none inside a word the catalog uses
    itself (园长 in 园长外出 is no typo of 院长), and the typed words are no everyday word of
    their own (上线 is no typo of 上限; 招标上线值 is one of 招标上限值)."""
    ends = sorted({end for _, end in spans}, reverse=True)
    own = [(s, e) for s, e in spans if e - s >= 2 and text[s:e] in built.pieces]
    chars = list(text)
    corrected: list[tuple[int, int]] = []
    covered = 0
    for start, _ in spans:
        if start < covered:
            continue
        for end in ends:
            size = end - start
            if not 2 <= size <= MAX_SOUND_TERM:
                continue
            window = text[start:end]
            if window in built.pieces or _is_dictionary_word(window, COMMON_WORD):
                continue
            term = _sounding_term(built, window, start, own)
            if term is not None:
                chars[start:end] = term
                corrected.append((start, end))
                covered = end
                break
    return "".join(chars), corrected


def _sounding_term(built: _Built, window: str, start: int,
                   own: list[tuple[int, int]]) -> str | None:
    size = len(window)
    for reading in sorted(readings(window[0])):
        for position in built.sounds.get((size, reading), ()):
            term = built.terms[position].text
            changed = differing(term, window)
            if not 0 < changed <= max(1, size // 3) or not sounds_alike(term, window):
                continue
            if any(s <= start + offset < e for offset in range(size)
                   if term[offset] != window[offset] for s, e in own):
                continue
            return term
    return None


def everyday_weight(word: str) -> float:
    """How much a word the catalog does not use says about the topic: everyday words (说, 上,
    开始) little, rare ones (开饭, 学费) fully — from the word's count in jieba's corpus."""
    count = _base_tokenizer().FREQ.get(word) or 0
    return min(1.0, max(EVERYDAY_MIN, (EVERYDAY_LOG - math.log10(count + 1)) / EVERYDAY_SPAN))


def _score(built: _Built, query: _Query) -> list[Match]:
    credit = _Credit(len(query.text))
    _credit_terms(built, query, credit)
    _credit_words(built, query, credit)
    _credit_synonyms(built, query, credit)
    _credit_subwords(built, query, credit)
    weights = query.char_weights()
    for start, end in query.corrected:       # a typo is weaker evidence than the word itself
        for position in range(start, end):
            weights[position] *= SOUND_FACTOR
    matches = []
    for flow, row in credit.rows.items():
        explained = sum(c * w for c, w in zip(row, weights, strict=True))
        score = min(1.0, explained / query.content)
        if not credit.level[flow]:
            score *= UNANCHORED_FACTOR
        if score > 0:
            strong_row = credit.strong_rows.get(flow, [0.0] * len(row))
            matches.append(Match(built.definitions[flow], round(score, 4),
                                 strong=credit.level[flow] >= STRONG,
                                 anchored=credit.level[flow] >= WEAK,
                                 aligned=flow in credit.aligned,
                                 words=_explained_words(query, row),
                                 strong_words=_explained_words(query, strong_row)))
    return matches


def _explained_words(query: _Query, row: list[float]) -> frozenset[str]:
    return frozenset(query.text[start:end] for start, end, weight in query.words
                     if weight > 0 and min(row[start:end]) >= MIN_EXPLAINED)


def _credit_terms(built: _Built, query: _Query, credit: _Credit) -> None:
    """Names, aliases, keywords and options found whole, in part, or with a typo."""
    text = query.text
    starts = {start for start, _, _ in query.words}
    ends = {end for _, end, _ in query.words}
    whole: set[int] = set()
    touched: set[int] = set()
    for start in range(len(text)):
        for end in range(start + 2, min(len(text), start + built.max_term) + 1):
            piece = text[start:end]
            for position in built.pieces.get(piece, ()):
                term = built.terms[position]
                touched.add(position)
                if piece == term.text:
                    if _ascii_bounded(text, start, end):
                        whole.add(position)
                        _credit_whole(term, start, end, start in starts and end in ends, credit)
                elif start in starts and end in ends:
                    # a piece of a term counts only as whole words of the question
                    # most of a name or alias, unless that part is a catalog word of its own
                    # (校园网 in 校园网盘 is the network's word, not the disk's name)
                    most = (term.strong and len(piece) >= 3 and len(piece) >= 0.75 * len(term.text)
                            and piece not in built.known)
                    credit.give(term.flow, start, end, _partial_weight(built, term, piece),
                                STRONG if most else 0)
    for position in touched - whole:
        term = built.terms[position]
        if term.parts:
            _credit_apart(term, text, credit)
        if term.strong and not term.whole_only and len(term.text) >= MIN_FUZZY_LENGTH:
            _credit_typo(built, term, query, starts, ends, credit)


def _credit_apart(term: _Term, text: str, credit: _Credit) -> None:
    """A term whose words come in order with a few other characters between them:
    公众号信息变更 has 公众号…变更, 微信公众号怎么备案 has 公众号…备案."""
    spans = []
    position = 0
    for part in term.parts:
        found = text.find(part, position)
        if found < 0:
            return
        spans.append((found, found + len(part)))
        position = found + len(part)
    gaps = sum(start - end for (_, end), (start, _) in itertools.pairwise(spans))
    if gaps > MAX_GAP:
        return
    for start, end in spans:
        credit.give(term.flow, start, end, term.weight * APART_FACTOR,
                    STRONG if term.strong else WEAK)


def _credit_whole(term: _Term, start: int, end: int, aligned: bool, credit: _Credit) -> None:
    """A term found whole; inside a longer word of the question (主任外出 in 副主任外出, 报修 in
    报修电脑) it may mean something else, so it counts less and never as a name."""
    if aligned:
        credit.give(term.flow, start, end, term.weight, STRONG if term.strong else WEAK)
    else:
        credit.give(term.flow, start, end, term.weight * UNALIGNED_FACTOR, WEAK, loose=True)


def _partial_weight(built: _Built, term: _Term, piece: str) -> float:
    coverage = len(piece) / len(term.text)
    rarity = built.piece_rarity.get(piece, 1.0)
    return term.weight * (0.4 + 0.6 * coverage) * (0.4 + 0.6 * rarity)


def _credit_typo(built: _Built, term: _Term, query: _Query, starts: set[int], ends: set[int],
                 credit: _Credit) -> None:
    """A name or alias typed with a typo (录拨教室): whole words of the question within edit
    distance 1 (2 for long terms) that are not words of their own (休学手续 ≠ 复学手续)."""
    size = len(term.text)
    allowed = 1 if size < 8 else 2
    # short terms: a wrong character only (a homophone picked by the input method)
    slack = allowed if size >= SHIFT_TYPO_LENGTH else 0
    text = query.text
    if sum(1 for char in term.text if char in text) < size - allowed:
        return
    for start in starts:
        for end in ends:
            if not size - slack <= end - start <= size + slack:
                continue
            window = text[start:end]
            if window in built.known or _is_dictionary_word(window):
                continue
            if levenshtein(term.text, window) <= allowed and not _changes_a_catalog_word(
                    built, term.text, window, start, query):
                # a character of another sound is a weaker sign than one of the same sound
                # (付学 is 复学, not 休学)
                factor = FUZZY_FACTOR if len(window) != size or sounds_alike(
                    term.text, window) else FUZZY_FACTOR * UNSOUND_FACTOR
                credit.give(term.flow, start, end, term.weight * factor, STRONG)


def _changes_a_catalog_word(built: _Built, term: str, window: str, start: int,
                            query: _Query) -> bool:
    """Not a typo: 招生摆摊 is not 招新摆摊 (the differing character sits in a word the catalog
    uses elsewhere, 招生), 请假带 is not 请假条 (the rest is a word of its own, 请假 + 带).
    油箱 is no catalog word, so 教育网油箱 is a typo of 教育网邮箱."""
    if len(term) != len(window):
        return False
    end = start + len(window)
    inside = [(s, e) for s, e, _ in query.words if s >= start and e <= end]
    for offset, (wanted, typed) in enumerate(zip(term, window, strict=True)):
        if wanted == typed:
            continue
        position = start + offset
        changed = next(((s, e) for s, e in inside if s <= position < e), None)
        if changed is None:
            return True
        word = query.text[changed[0]:changed[1]]
        rest = [query.text[s:e] for s, e in inside if (s, e) != changed]
        if len(word) >= 2 and word in built.pieces:
            return True
        if len(rest) == 1 and (rest[0] in built.known or _is_dictionary_word(rest[0],
                                                                             COMMON_WORD)):
            return True
    return False


def _ascii_bounded(text: str, start: int, end: int) -> bool:
    """An ASCII term (OA, edu) must not be the middle of a longer ASCII word."""
    before = start > 0 and bool(_ASCII.match(text[start - 1])) and bool(_ASCII.match(text[start]))
    after = end < len(text) and bool(_ASCII.match(text[end])) and bool(_ASCII.match(text[end - 1]))
    return not (before or after)


def _credit_words(built: _Built, query: _Query, credit: _Credit) -> None:
    """Words of the question found in a flow's summary, step titles, field labels or unit."""
    for start, end, weight in query.words:
        if weight <= 0 or end - start < 2:
            continue
        word = query.text[start:end]
        rarity = built.piece_rarity.get(word, 1.0)
        for flow, word_credit in built.words.get(word, ()):
            credit.give(flow, start, end, word_credit * (0.4 + 0.6 * rarity))


def _credit_synonyms(built: _Built, query: _Query, credit: _Credit) -> None:
    """A word the catalog does not use, read as its everyday synonyms that it does (老婆 →
    配偶): a term equal to the synonym, or the synonym among a flow's words, a little weaker."""
    for start, end, weight in query.words:
        word = query.text[start:end]
        if weight <= 0 or word in built.pieces or word in built.words:
            continue
        for other in everyday_synonyms(word):
            for position in built.pieces.get(other, ()):
                term = built.terms[position]
                if term.text == other:
                    credit.give(term.flow, start, end, term.weight * SYNONYM_FACTOR, WEAK)
                else:
                    credit.give(term.flow, start, end,
                                _partial_weight(built, term, other) * SYNONYM_FACTOR)
            rarity = built.piece_rarity.get(other, 1.0)
            for flow, word_credit in built.words.get(other, ()):
                credit.give(flow, start, end, word_credit * (0.4 + 0.6 * rarity) * SYNONYM_FACTOR)


def _credit_subwords(built: _Built, query: _Query, credit: _Credit) -> None:
    """A longer word the catalog does not know, by the catalog's words inside it (抑郁症 has
    抑郁, 发高烧 has 高烧 = 发热): the longest such piece, at a lower weight."""
    for start, end, weight in query.words:
        word = query.text[start:end]
        if weight <= 0 or end - start < 3 or word in built.pieces or word in built.words:
            continue
        for size in range(end - start - 1, 1, -1):
            found = False
            for offset in range(start, end - size + 1):
                piece = query.text[offset:offset + size]
                for other in (piece, *everyday_synonyms(piece)):
                    for position in built.pieces.get(other, ()):
                        term = built.terms[position]
                        if term.text == other:
                            found = True
                            # evidence, but never enough alone to offer it (期末考试 ≠ 考试)
                            credit.give(term.flow, start, end, term.weight * SUBWORD_FACTOR)
            if found:
                break


# ---- roles --------------------------------------------------------------------------------------
def fit_specificity(definition: FlowDefinition, roles: Collection[str]) -> int:
    """How specifically the flow's audience fits the asker: -1 when they may not apply."""
    fits = [ROLE_SPECIFICITY.get(role, 1) for role in definition.audience if role in roles]
    if fits:
        return max(fits)
    return 0 if ANYONE in definition.audience else -1


def _variant_of(match: Match, top: Match) -> bool:
    """Another audience's version of the best match: close to it and explaining some of the
    same words; or explaining every word its names and aliases explain (请假 in 孩子发烧了要请假
    is the teachers' 请假 for a teacher, however many illness words the students' flow lists)."""
    if match.score >= top.score * ROLE_BAND and match.words & top.words:
        return True
    core = top.strong_words or top.words
    return match.score >= top.score * TAKEOVER_MIN and bool(core) and core <= match.words


def _prefer_roles(ranked: list[Match], roles: Collection[str]) -> list[Match]:
    """Among candidates close to the best that explain some of the same words (the variants of
    one process for different people), the one fitting the asker's most specific role wins; the
    variants it beats drop behind every other candidate."""
    if not ranked or not roles:
        return ranked
    top = ranked[0]
    band = [m for m in ranked if m is top or _variant_of(m, top)]
    if fit_specificity(top.definition, roles) < 0 and not top.strong_words:
        # the best is not open to the asker and only related words chose it (开会 and 外地 for
        # a school leader): the asker's own variant of it, explaining some of the same words,
        # need not come as close
        band += [m for m in ranked if m not in band and m.words & top.words
                 and m.score >= top.score * UNFIT_BAND
                 and fit_specificity(m.definition, roles) > 0]
    fits = {m.definition.id: fit_specificity(m.definition, roles) for m in band}
    best_fit = max(fits.values())
    winners = [m for m in band if fits[m.definition.id] == best_fit]
    if best_fit < 0 or len(winners) == len(band):
        return ranked
    # the best-scoring winner takes the top place; other winners keep their own score
    lifted = [replace(winners[0], score=top.score), *winners[1:]]
    ceiling = top.score * DEMOTED_SHARE
    demoted = [replace(m, score=min(m.score, ceiling)) for m in band if m not in winners]
    others = [m for m in ranked if m not in band]
    return sorted(lifted + others + demoted, key=lambda m: -m.score)
