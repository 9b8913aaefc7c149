"""Find the process a user means from their own words.

The index is built once per catalog generation from every flow's name, aliases, keywords, choice
options, summary, step titles, field labels and unit. A question is normalised (full-width to
half-width, lower case, no punctuation), the quantities and dates it states are set aside (they
are answers, not topic words), and it is segmented with a private jieba tokenizer that knows the
catalog's names, aliases and keywords.

Each flow earns *credit* on the characters of the question it explains:

- a name or alias found in the question (exact, or with one typo: edit distance) — strongest;
- a keyword or choice option found in the question — weaker;
- a piece of a name/alias/keyword (资产管理 in 资产管理系统) — scaled by how much of the term it is
  and how rare the piece is across the catalog;
- a jieba word of the question that occurs in the summary, a step title, a field label or the
  unit — weakest.

General campus words have synonyms (借/借用/预约, 坏了/故障, 老师/教师 …): the index holds variants
of the terms with the synonyms put in. A flow's *score* is the share of the question's content
(its words less question words such as 怎么、在哪里、需要) it explains, weighted by the credit:
0 explains nothing, 1 explains everything with names and aliases. The score is the confidence;
`find` turns the ranking into an answer: one confident match, a few close candidates to choose
from, or nothing (the question is outside the catalog).

Role-aware: among candidates that explain the question about equally well, the one whose audience
fits the asker's most specific role wins (a department head's 请假 is 部门主要负责人个人外出请销假).
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, Literal

import jieba

from flows.answers import AnswerError, parse_answer
from flows.catalog import Catalog
from flows.definition import Field, FlowDefinition
from flows.validation import ANYONE

log = logging.getLogger("campusbot.search")

# ---- weights and thresholds (calibrated on benchmarks/data/guide_dev.tsv and the tests) ---------
NAME_WEIGHT = 1.0
ALIAS_WEIGHT = 1.0
KEYWORD_WEIGHT = 0.75
OPTION_WEIGHT = 0.7
TEXT_WEIGHT = 0.4           # a word of the summary, a step title, a field label, the unit
SYNONYM_FACTOR = 0.95       # a term with a general synonym put in
FUZZY_FACTOR = 0.8          # a name or alias typed with a typo
MIN_FUZZY_LENGTH = 4        # shorter terms are not matched with typos (too many false friends)
UNANCHORED_FACTOR = 0.6     # no term found whole (only pieces and summary words): weak evidence

CONFIDENT = 0.55            # a single best match at least this good is answered directly
LIST_MIN = 0.3              # below this nothing is offered: the question is outside the catalog
CLOSE_RATIO = 0.8           # a runner-up this close to the best makes the answer ambiguous
ROLE_BAND = 0.6             # candidates this close compete on the asker's role
MAX_CANDIDATES = 5

#: how specific a role is: the more specific role's process wins among comparable candidates
ROLE_SPECIFICITY = {
    "affiliated_deputy": 3, "affiliated_head": 3, "dept_head": 3, "school_leader": 3,
    "cadre": 2, "counselor": 2, "club_leader": 2,
    "teacher": 1, "staff": 1, "student": 1,
}

#: words of the question that carry no topic (weight 0) or little (weight 0.5)
STOP_WORDS = frozenset((
    "我", "我们", "咱们", "你", "您", "你们", "他", "她", "它", "要", "想", "想要", "需要", "需",
    "要求", "怎么", "怎样", "怎么样", "如何", "咋", "咋办", "怎么办", "怎么弄", "怎么搞", "怎么走",
    "怎办", "哪里", "哪儿", "在哪", "在哪里", "在哪儿", "哪", "哪个", "哪些", "哪家", "什么", "啥",
    "吗", "么", "呢", "吧", "啊", "呀", "哦", "嘛", "哈", "了", "的", "地", "得", "着", "过", "是",
    "有", "在", "去", "到", "给", "帮", "帮忙", "帮我", "请问", "请", "问", "问下", "问一下",
    "一下", "下", "可以", "能", "能否", "能不能", "可不可以", "是否", "会", "应该", "该", "找",
    "谁", "办", "弄", "搞", "做", "走", "一个", "个", "这个", "那个", "这", "那", "还", "和", "与",
    "及", "或", "就", "都", "也", "又", "再", "没", "没有", "有没有", "要不要", "用", "用不用",
    "需不需要", "多少", "几", "怎", "样", "您好", "你好", "老铁", "谢谢", "麻烦", "一趟", "所有",
    "关于", "对于", "进行", "已经", "现在", "马上",
))
SOFT_WORDS = frozenset((
    "申请", "办理", "流程", "手续", "材料", "审批", "审核", "报备", "登记", "备案", "上报", "报送",
    "报告", "提交", "填写", "条件", "规定", "要求", "指南", "事项", "业务", "部门", "单位", "学校",
    "学院", "系统", "平台", "网站", "入口", "地址", "电话", "联系", "时间", "多久", "几天",
))
SOFT_WEIGHT = 0.5

#: general campus words people use interchangeably; terms are indexed with each variant
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("老师", "教师", "教职工", "职工", "老師"),
    ("学生", "同学"),
    ("借", "借用", "预约", "预定", "租", "订"),
    ("坏了", "故障", "出问题", "用不了", "不能用", "坏掉了", "出毛病"),
    ("修", "维修", "修理"),
    ("电脑", "计算机", "笔记本", "台式机"),
    ("邮箱", "邮件", "电子邮箱", "email", "e-mail", "mail"),
    ("公众号", "微信公众号"),
    ("汽车", "机动车", "小车", "私家车", "轿车"),
    ("外出", "出差", "出去", "离校"),
    ("剧院", "剧场"),
    ("宿舍", "寝室"),
    ("登录", "登陆"),
    ("校领导", "学校领导"),
    ("监控", "监控录像", "摄像头"),
    ("报修", "保修"),
)

#: question words: a sentence with one of these asks about the process
QUESTION_MARKERS = (
    "怎么", "怎样", "如何", "咋", "哪里", "哪儿", "在哪", "哪个", "什么", "啥", "吗", "么", "呢",
    "找谁", "谁", "要不要", "需不需要", "能不能", "可不可以", "是否", "流程", "手续", "材料",
    "条件", "多久", "指南", "?", "？", "问一下", "请问", "了解",
)
#: wishes and imperatives: a sentence starting with one of these asks to apply
APPLY_STARTS = (
    "我要", "我想", "想要", "我需要", "帮我", "给我", "请帮我", "麻烦", "我来", "我准备", "我打算",
    "要", "想", "申请", "预约", "借", "报修", "办理", "开通", "登记", "我得", "我现在要",
)

_PUNCTUATION = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")
_NUMERAL = r"(?:\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万半]+)"
_QUANTITY = re.compile(
    rf"{_NUMERAL}\s*(?:万|千)?\s*(?:个月|个工作日|天半|天|日|周|年|元|块钱|块|万元|人|个|台|辆|间|件|份|位|名|次|小时)"
    r"(?!后|以后)")
_DATE_WORDS = re.compile(
    r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}[日号]?|"
    r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})月(?:\d{1,2}|[一二三四五六七八九十]{1,3})[日号]?|"
    r"(?:下下|下个|下|本|这个|这|上个|上)?(?:周|星期|礼拜)[一二三四五六日天七]|"
    rf"{_NUMERAL}天(?:以)?后|大后天|后天|明天|明日|今天|今日|昨天|前天")
_PARENTHESIS = re.compile(r"[（(].*?[)）]")
_ASCII = re.compile(r"[0-9a-z]")

_jieba_lock = threading.Lock()


# ---- results ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Match:
    definition: FlowDefinition
    score: float


@dataclass(frozen=True)
class Answer:
    """What the index makes of a question.

    `status` is "confident" (answer with `matches[0]`), "ambiguous" (ask which of `matches`
    was meant) or "unknown" (outside the catalog; `matches` is empty)."""

    status: Literal["confident", "ambiguous", "unknown"]
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
    """The normalised question without the dates and quantities it states (请3天病假 → 请病假)."""
    return normalize(_QUANTITY.sub("", _DATE_WORDS.sub("", unicodedata.normalize("NFKC", text))))


def word_weight(word: str) -> float:
    if word in STOP_WORDS:
        return 0.0
    if word in SOFT_WORDS:
        return SOFT_WEIGHT
    return 1.0


def edit_span(term: str, text: str) -> tuple[int, int, int]:
    """Best approximate occurrence of `term` inside `text`: (distance, start, end)."""
    size = len(term)
    previous = [(0, j) for j in range(len(text) + 1)]          # (cost, start) per end position
    for i in range(1, size + 1):
        current = [(i, 0)]
        for j in range(1, len(text) + 1):
            substitute = previous[j - 1][0] + (term[i - 1] != text[j - 1])
            options = ((substitute, previous[j - 1][1]), (previous[j][0] + 1, previous[j][1]),
                       (current[j - 1][0] + 1, current[j - 1][1]))
            current.append(min(options))
        previous = current
    cost, end = min((previous[j][0], j) for j in range(len(text) + 1))
    return cost, previous[end][1], end


def synonym_variants(term: str) -> list[str]:
    """The term with one general word swapped for each of its synonyms."""
    variants: list[str] = []
    for group in SYNONYMS:
        for word in group:
            if word in term:
                variants += [term.replace(word, other) for other in group if other != word]
                break
    return [v for v in dict.fromkeys(variants) if v != term]


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


@dataclass
class _Query:
    text: str
    words: list[tuple[int, int, float]]          # (start, end, weight) of each jieba word
    content: float                               # total weight of the question's content

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
                    self._built = _build(self.catalog.all())
                    self._generation = generation
                built = self._built
        return built

    def warm_up(self) -> None:
        """Build the index now rather than on the first question."""
        self._index()

    # ---- searching ------------------------------------------------------------------------------
    def search(self, text: str, roles: Collection[str] = ()) -> list[Match]:
        """Every flow that explains part of the question, best first, the asker's role applied."""
        built = self._index()
        query = _parse_query(text)
        if query.content <= 0:
            return []
        ranked = sorted(_score(built, query), key=lambda m: (-m.score, m.definition.name))
        return _prefer_roles(ranked, roles)

    def find(self, text: str, roles: Collection[str] = ()) -> Answer:
        """The answer to a question: one confident match, close candidates, or nothing."""
        apply = self.is_apply_intent(text)
        matches = [m for m in self.search(text, roles) if m.score >= LIST_MIN]
        if not matches:
            return Answer("unknown", (), apply)
        best = matches[0]
        close = [m for m in matches[1:] if m.score >= best.score * CLOSE_RATIO]
        if best.score >= CONFIDENT and not close:
            return Answer("confident", (best,), apply)
        floor = best.score * (CLOSE_RATIO if best.score >= CONFIDENT else 0.6)
        shown = [m for m in matches if m.score >= floor][:MAX_CANDIDATES]
        return Answer("ambiguous", tuple(shown), apply)

    @staticmethod
    def is_apply_intent(text: str) -> bool:
        """我要报修电脑 / 帮我预约录播教室 ask to apply; 怎么申请 / 在哪里办 / 找谁 ask about it."""
        cleaned = unicodedata.normalize("NFKC", text).strip()
        if any(marker in cleaned for marker in QUESTION_MARKERS):
            return False
        return cleaned.startswith(APPLY_STARTS)

    @staticmethod
    def prefill(definition: FlowDefinition, text: str, today: date) -> dict[str, Any]:
        """Answers the sentence states clearly: an option named, a number with the field's unit,
        a date when the form has exactly one date field. Each is validated; nothing is guessed."""
        sentence = unicodedata.normalize("NFKC", text)
        values: dict[str, Any] = {}
        plain = [f for f in definition.fields if f.when is None]
        for item in plain:
            value = _prefill_value(item, plain, sentence, today)
            if value is not None:
                values[item.key] = value
        return values


# ---- building the index -------------------------------------------------------------------------
def _flow_terms(definition: FlowDefinition) -> Iterator[tuple[str, float, bool]]:
    yield definition.name, NAME_WEIGHT, True
    for alias in definition.aliases:
        yield alias, ALIAS_WEIGHT, True
    for keyword in definition.keywords:
        yield keyword, KEYWORD_WEIGHT, False
    for item in definition.fields:
        if item.type == "choice":
            for option in item.options:
                core = _PARENTHESIS.sub("", option)
                if core and core != "其他":
                    yield core, OPTION_WEIGHT, False


def _flow_text(definition: FlowDefinition) -> Iterator[str]:
    yield definition.summary
    yield definition.unit
    yield from (step.title for step in definition.steps)
    yield from (item.label for item in definition.fields)


def _build(definitions: list[FlowDefinition]) -> _Built:
    built = _Built(definitions=list(definitions))
    tokenizer = _tokenizer_with(definitions)
    term_keys: set[tuple[int, str]] = set()
    for number, definition in enumerate(built.definitions):
        for raw, weight, strong in _flow_terms(definition):
            text = normalize(raw)
            variants = [(text, weight)] + [(v, weight * SYNONYM_FACTOR)
                                           for v in synonym_variants(text)]
            for variant, variant_weight in variants:
                if len(variant) >= 2 and (number, variant) not in term_keys:
                    term_keys.add((number, variant))
                    built.known.add(variant)
                    built.terms.append(_Term(number, variant, variant_weight, strong))
        _add_words(built, number, definition, tokenizer)
    _index_pieces(built)
    return built


def _tokenizer_with(definitions: Iterable[FlowDefinition]) -> jieba.Tokenizer:
    tokenizer = _base_tokenizer()
    with _jieba_lock:
        for definition in definitions:
            for word in (definition.name, *definition.aliases, *definition.keywords):
                text = normalize(word)
                # 请病假 stays 请|病假, so the polite verb never hides the topic word
                if 2 <= len(text) <= 12 and not _ASCII.search(text) and text[0] not in STOP_WORDS:
                    tokenizer.add_word(text, freq=None)
    return tokenizer


def _cut(text: str) -> list[str]:
    tokenizer = _base_tokenizer()
    with _jieba_lock:
        return tokenizer.lcut(text, HMM=False)


def _add_words(built: _Built, number: int, definition: FlowDefinition,
               tokenizer: jieba.Tokenizer) -> None:
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
        pieces = {text[i:j] for i in range(len(text)) for j in range(i + 2, len(text) + 1)}
        for piece in pieces:
            built.pieces[piece].append(position)
            flows_with[piece].add(term.flow)
    for word, entries in built.words.items():
        flows_with[word].update(flow for flow, _ in entries)
    total = max(len(built.definitions), 2)
    built.piece_rarity = {piece: math.log(total / len(flows)) / math.log(total)
                          for piece, flows in flows_with.items()}


# ---- scoring ------------------------------------------------------------------------------------
def _parse_query(text: str) -> _Query:
    stripped = strip_values(text)
    words: list[tuple[int, int, float]] = []
    position = 0
    for word in _cut(stripped):
        end = position + len(word)
        words.append((position, end, word_weight(word)))
        position = end
    return _Query(stripped, words, sum((e - s) * w for s, e, w in words))


def _score(built: _Built, query: _Query) -> list[Match]:
    credit: dict[int, list[float]] = {}
    anchored: set[int] = set()

    def give(flow: int, start: int, end: int, weight: float, anchor: bool = False) -> None:
        row = credit.setdefault(flow, [0.0] * len(query.text))
        for position in range(start, end):
            if weight > row[position]:
                row[position] = weight
        if anchor:
            anchored.add(flow)

    _credit_terms(built, query, give)
    _credit_words(built, query, give)
    weights = query.char_weights()
    matches = []
    for flow, row in credit.items():
        explained = sum(c * w for c, w in zip(row, weights, strict=True))
        score = min(1.0, explained / query.content)
        if flow not in anchored:
            score *= UNANCHORED_FACTOR
        if score > 0:
            matches.append(Match(built.definitions[flow], round(score, 4)))
    return matches


def _credit_terms(built: _Built, query: _Query, give: Any) -> None:
    """Names, aliases, keywords and options found whole, in part, or with a typo."""
    text = query.text
    starts = {start for start, _, _ in query.words}
    ends = {end for _, end, _ in query.words}
    exact: set[int] = set()
    touched: set[int] = set()
    for start in range(len(text)):
        for end in range(start + 2, min(len(text), start + built.max_term) + 1):
            piece = text[start:end]
            for position in built.pieces.get(piece, ()):
                term = built.terms[position]
                touched.add(position)
                if piece == term.text:
                    if _ascii_bounded(text, start, end):
                        exact.add(position)
                        give(term.flow, start, end, term.weight, True)
                elif start in starts and end in ends:
                    # a piece of a term counts only as whole words of the question
                    anchor = term.strong and len(piece) >= 3 and len(piece) >= 0.6 * len(term.text)
                    give(term.flow, start, end, _partial_weight(built, term, piece), anchor)
    for position in touched - exact:
        term = built.terms[position]
        if term.strong and len(term.text) >= MIN_FUZZY_LENGTH:
            _credit_typo(term, text, built.known, give)


def _partial_weight(built: _Built, term: _Term, piece: str) -> float:
    coverage = len(piece) / len(term.text)
    rarity = built.piece_rarity.get(piece, 1.0)
    return term.weight * (0.4 + 0.6 * coverage) * (0.4 + 0.6 * rarity)


def _credit_typo(term: _Term, text: str, known: Collection[str], give: Any) -> None:
    size = len(term.text)
    allowed = 1 if size < 8 else 2
    shared = sum(1 for char in term.text if char in text)
    if shared < size - allowed:
        return
    distance, start, end = edit_span(term.text, text)
    # 休学手续 is a word of its own, not a typo of 复学手续
    if 0 < distance <= allowed and end - start >= size - allowed and text[start:end] not in known:
        give(term.flow, start, end, term.weight * FUZZY_FACTOR, True)


def _ascii_bounded(text: str, start: int, end: int) -> bool:
    """An ASCII term (OA, edu) must not be the middle of a longer ASCII word."""
    before = start > 0 and bool(_ASCII.match(text[start - 1])) and bool(_ASCII.match(text[start]))
    after = end < len(text) and bool(_ASCII.match(text[end])) and bool(_ASCII.match(text[end - 1]))
    return not (before or after)


def _credit_words(built: _Built, query: _Query, give: Any) -> None:
    """Words of the question found in a flow's summary, step titles, field labels or unit."""
    for start, end, weight in query.words:
        if weight <= 0 or end - start < 2:
            continue
        word = query.text[start:end]
        rarity = built.piece_rarity.get(word, 1.0)
        for flow, word_credit in built.words.get(word, ()):
            give(flow, start, end, word_credit * (0.4 + 0.6 * rarity))


# ---- roles --------------------------------------------------------------------------------------
def fit_specificity(definition: FlowDefinition, roles: Collection[str]) -> int:
    """How specifically the flow's audience fits the asker: -1 when they may not apply."""
    fits = [ROLE_SPECIFICITY.get(role, 1) for role in definition.audience if role in roles]
    if fits:
        return max(fits)
    return 0 if ANYONE in definition.audience else -1


def _prefer_roles(ranked: list[Match], roles: Collection[str]) -> list[Match]:
    """Among candidates close to the best, the one fitting the asker's most specific role wins;
    the comparable variants it beats drop behind every other candidate."""
    if not ranked or not roles:
        return ranked
    band = [m for m in ranked if m.score >= ranked[0].score * ROLE_BAND]
    fits = {m.definition.id: fit_specificity(m.definition, roles) for m in band}
    top_fit = max(fits.values())
    winners = [m for m in band if fits[m.definition.id] == top_fit]
    if top_fit < 0 or len(winners) == len(band):
        return ranked
    losers = [m for m in band if fits[m.definition.id] < top_fit]
    lifted = [Match(m.definition, max(m.score, ranked[0].score)) for m in winners]
    demoted = [Match(m.definition, min(m.score, lifted[0].score * ROLE_BAND * 0.99))
               for m in losers]
    return sorted(lifted + ranked[len(band):] + demoted, key=lambda m: -m.score)


# ---- prefill ------------------------------------------------------------------------------------
def _prefill_value(item: Field, fields: list[Field], sentence: str, today: date) -> Any:
    if item.type == "choice" and not item.multiple:
        return _named_option(item, sentence)
    if item.type == "number" and item.unit:
        same_unit = [f for f in fields if f.type == "number" and f.unit == item.unit]
        return _stated_number(item, sentence, today) if len(same_unit) == 1 else None
    if item.type == "date":
        dates = [f for f in fields if f.type == "date"]
        return _stated_date(item, sentence, today) if len(dates) == 1 else None
    return None


def _named_option(item: Field, sentence: str) -> str | None:
    text = normalize(sentence)
    named = [o for o in item.options
             if o != "其他" and (core := normalize(_PARENTHESIS.sub("", o))) and core in text]
    # 陪产假 also contains 产假: keep only the longest of nested options
    named = [o for o in named if not any(o != other and o in other for other in named)]
    return named[0] if len(named) == 1 else None


def _stated_number(item: Field, sentence: str, today: date) -> float | int | None:
    pattern = re.compile(rf"{_NUMERAL}\s*(?:万|千)?\s*{re.escape(item.unit)}(?:半)?(?!后|以后)")
    found = [m.group(0) for m in pattern.finditer(sentence)]
    if len(found) != 1:
        return None
    with contextlib.suppress(AnswerError):
        return parse_answer(item, found[0], today)
    return None


def _stated_date(item: Field, sentence: str, today: date) -> str | None:
    found = [m.group(0) for m in _DATE_WORDS.finditer(sentence)]
    if len(found) != 1:
        return None
    with contextlib.suppress(AnswerError):
        return parse_answer(item, found[0], today)
    return None
