"""BM25 over the articles' words, the lexical half of the local store's fused search.

bm25s computes the index at build time: with its default Lucene variant every (term, document)
score is fixed once the corpus is, so a query's score is a sum of stored rows. Those rows (one
sparse column per term) are persisted as plain numpy arrays and summed here the way bm25s does,
so serving never imports bm25s or the scipy it pulls in (about 0.5 s of a retriever's start).

Words are lower-cased, stop words dropped and Snowball-stemmed (English): Banking77 customers
write "stole", "charged", "cards" where the articles say "stolen", "charges", "card", the misses
that made Weaviate's unstemmed BM25 a poor partner for the vectors.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import py_rust_stemmers
from numpy.typing import NDArray

from supportbus_retriever.expansion import NO_EXPANSION, Expansion
from supportbus_retriever.kb import KbArticle

LEXICAL_FILE = "supportbus-lexical.npz"
LEXICAL_META = "supportbus-lexical.json"
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s' default: words of two characters or more


@dataclass(frozen=True)
class Analyzer:
    """Text to index terms; the same at build and query time (it is persisted with the index)."""

    stopwords: frozenset[str] = frozenset()
    stem: bool = True

    @cached_property
    def _stemmer(self) -> py_rust_stemmers.SnowballStemmer:
        return py_rust_stemmers.SnowballStemmer("english")

    def terms(self, text: str) -> list[str]:
        words = [w for w in _TOKEN.findall(text.lower()) if w not in self.stopwords]
        return list(self._stemmer.stem_words(words)) if self.stem and words else words


@dataclass(frozen=True)
class ArticleFields:
    """The parts of an article that can be weighted apart: customers ask in the words of the
    title and of the "Common questions" more than in those of the prose."""

    title: str
    headings: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)


_QUESTION = re.compile(r"^\s*[-*]\s+\*\*(?P<q>.+?)\*\*\s*(?P<a>.*)$")


def article_fields(article: KbArticle) -> ArticleFields:
    fields = ArticleFields(title=article.title)
    in_questions = False
    for line in article.body.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            in_questions = heading.lower() == "common questions"
            if not in_questions:
                fields.headings.append(heading)
            continue
        match = _QUESTION.match(line) if in_questions else None
        if match:
            fields.questions.append(match["q"])
            fields.answers.append(match["a"])
        elif line.strip():
            fields.body.append(line)
    return fields


def lexical_units(article: KbArticle, *, answers: bool) -> list[str]:
    """What BM25 indexes of one article, folded back per article (best unit wins): its title,
    each "Common questions" question with the title, and the prose (headings, sections and,
    if ``answers``, the questions' answers) with the title. Short units let a query that
    matches one question outscore a long article that mentions its words in passing."""
    fields = article_fields(article)
    prose = [fields.title, *fields.headings, *fields.body, *(fields.answers if answers else [])]
    return [fields.title, *(f"{fields.title} {q}" for q in fields.questions), " ".join(prose)]


@dataclass(frozen=True)
class LexicalParams:
    """Chosen by 5-fold cross-validation on the Banking77 training texts:
    benchmarks/retrieval_tuning.py prints the grid (the figures are in its docstring)."""

    # Best for the fused ranking (the default mode), which is what the index is built for:
    # BM25 alone prefers k1 2.0, b 0.5 and stop words dropped (train R@3 0.770 against 0.72 with
    # these), but paired with the vectors these win (fused R@3 0.910 against 0.906).
    k1: float = 0.9
    b: float = 0.9
    stopwords: bool = False  # bm25s' English list when True: "not", "can't" carry meaning here
    answers: bool = True  # the answers of "Common questions" in the prose unit


# With question expansion (thousands of short question units beside the articles' own): best
# for the fused ranking in the same 5-fold CV (benchmarks/retrieval_tuning.py --expansion; with
# fusion.EXPANDED_FUSION, CV R@3 0.975). BM25 alone would prefer k1 2.0, b 0.75 with
# stop words dropped (CV R@3 0.910 against 0.903 with these).
EXPANDED_LEXICAL = LexicalParams(k1=1.5, b=0.5, stopwords=False, answers=True)


def build_lexical(
    articles: Sequence[KbArticle],
    params: LexicalParams,
    expansion: Expansion = NO_EXPANSION,
) -> LexicalIndex:
    """BM25 over the articles' units and, one unit each, the ``expansion`` questions attached
    to the articles tagged with their intent (:mod:`supportbus_retriever.expansion`). Needs
    bm25s: build time (and tuning) only."""
    from bm25s.stopwords import STOPWORDS_EN

    analyzer = Analyzer(frozenset(STOPWORDS_EN) if params.stopwords else frozenset())
    units = [(a.article_id, u) for a in articles for u in lexical_units(a, answers=params.answers)]
    units += expansion.attached(articles)
    return LexicalIndex.build(
        [analyzer.terms(text) for _, text in units],
        owners=[article_id for article_id, _ in units],
        k1=params.k1,
        b=params.b,
        analyzer=analyzer,
    )


class LexicalIndex:
    """BM25 scores for a query, from bm25s' precomputed sparse columns, best unit per article."""

    def __init__(
        self,
        vocab: dict[str, int],
        arrays: dict[str, NDArray[Any]],
        owners: list[str],
        analyzer: Analyzer,
        params: dict[str, float],
    ) -> None:
        self._vocab = vocab
        self._data = arrays["data"].astype(np.float32)
        self._indices = arrays["indices"].astype(np.int64)
        self._indptr = arrays["indptr"].astype(np.int64)
        self._owners = owners  # the article of each document
        self.articles = sorted(set(owners))
        position = {article_id: i for i, article_id in enumerate(self.articles)}
        self._owner_index = np.asarray([position[o] for o in owners], dtype=np.int64)
        self.analyzer = analyzer
        self.params = params

    @classmethod
    def build(
        cls,
        documents: Sequence[list[str]],
        *,
        owners: list[str],
        k1: float,
        b: float,
        analyzer: Analyzer,
    ) -> LexicalIndex:
        """From each document's terms (already analysed) and the article it belongs to."""
        import bm25s

        # bm25s sets its own logger to DEBUG, so each build would print "Building index from
        # tokens" through whatever handler the process has.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        if len(owners) != len(documents):
            raise ValueError(f"{len(owners)} owners for {len(documents)} documents")
        bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        bm25.index([list(d) for d in documents], show_progress=False)
        arrays = {name: np.asarray(bm25.scores[name]) for name in ("data", "indices", "indptr")}
        columns = len(arrays["indptr"]) - 1
        # bm25s adds "" for documents without terms; it has no column (our terms never are "").
        vocab = {str(t): int(i) for t, i in bm25.vocab_dict.items() if t and int(i) < columns}
        return cls(vocab, arrays, list(owners), analyzer, {"k1": k1, "b": b})

    def __len__(self) -> int:
        return len(self._owners)

    def document_scores(self, query: str) -> NDArray[np.float32]:
        """One BM25 score per document (0 when no query term is in it), as bm25s scores."""
        scores = np.zeros(len(self._owners), dtype=np.float32)
        for term in self.analyzer.terms(query):
            column = self._vocab.get(term)
            if column is None:
                continue
            start, end = self._indptr[column], self._indptr[column + 1]
            # A term twice in the query counts twice, as in bm25s.
            np.add.at(scores, self._indices[start:end], self._data[start:end])
        return scores

    def article_scores(self, query: str) -> NDArray[np.float32]:
        """The best document's score of each article, in the order of ``self.articles``."""
        best = np.zeros(len(self.articles), dtype=np.float32)
        np.maximum.at(best, self._owner_index, self.document_scores(query))
        return best

    def many_article_scores(self, queries: Sequence[str]) -> NDArray[np.float32]:
        """``article_scores`` of many queries at once, one row each (tuning: one sparse
        product instead of a loop; imports scipy, which serving never calls)."""
        from scipy import sparse

        rows, columns = [], []
        for row, query in enumerate(queries):
            for term in self.analyzer.terms(query):
                column = self._vocab.get(term)
                if column is not None:
                    rows.append(row)
                    columns.append(column)
        counts = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, columns)),
            shape=(len(queries), len(self._vocab)),
        )  # a term twice in a query counts twice: duplicates are summed
        postings = sparse.csr_matrix(
            (self._data, self._indices, self._indptr), shape=(len(self._vocab), len(self._owners))
        )
        documents = np.asarray((counts @ postings).todense(), dtype=np.float32)
        order = np.argsort(self._owner_index, kind="stable")
        starts = np.searchsorted(self._owner_index[order], np.arange(len(self.articles)))
        return np.maximum.reduceat(documents[:, order], starts, axis=1).clip(min=0)

    def ranking(self, query: str, n: int) -> list[tuple[str, float]]:
        """The ``n`` best articles that share a term with the query, best first (ties: by id)."""
        scores = self.article_scores(query)
        order = np.argsort(-scores, kind="stable")[:n]
        return [(self.articles[i], float(scores[i])) for i in order if scores[i] > 0]

    def save(self, directory: Path) -> None:
        np.savez(
            directory / LEXICAL_FILE, data=self._data, indices=self._indices, indptr=self._indptr
        )
        meta = {
            "vocab": self._vocab,
            "owners": self._owners,
            "stopwords": sorted(self.analyzer.stopwords),
            "stem": self.analyzer.stem,
            "params": self.params,
        }
        (directory / LEXICAL_META).write_text(json.dumps(meta, ensure_ascii=False))

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        """Raises OSError, ValueError or KeyError when the files are missing or do not match."""
        meta: dict[str, Any] = json.loads((directory / LEXICAL_META).read_text())
        with np.load(directory / LEXICAL_FILE, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in ("data", "indices", "indptr")}
        vocab = {str(t): int(i) for t, i in meta["vocab"].items()}
        owners = [str(o) for o in meta["owners"]]
        if len(arrays["indptr"]) != len(vocab) + 1 or len(arrays["data"]) != len(arrays["indices"]):
            raise ValueError(f"lexical arrays do not match a vocabulary of {len(vocab)} terms")
        if len(arrays["indices"]) and int(arrays["indices"].max()) >= len(owners):
            raise ValueError(f"lexical arrays index past {len(owners)} documents")
        analyzer = Analyzer(frozenset(meta["stopwords"]), bool(meta["stem"]))
        return cls(vocab, arrays, owners, analyzer, dict(meta["params"]))
