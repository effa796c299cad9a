"""The Weaviate ingest plan, on plain data: which chunks an ingest writes, which it deletes,
when it must refuse, and what it reports (the real server is covered by
tests/integration/test_weaviate_store.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from supportbus_retriever.weaviate_ingest_plan import (
    IngestPlan,
    StoredChunk,
    WantedChunk,
    chunk_uuid,
    plan_ingest,
)

MODEL = "minilm"


def _wanted(article_id: str, hashes: Sequence[str]) -> list[WantedChunk]:
    """One article's chunks, section by section, with the given content hashes."""
    return [WantedChunk(chunk_uuid(article_id, i), article_id, h) for i, h in enumerate(hashes)]


def _stored_as(chunks: Sequence[WantedChunk], model: str = MODEL) -> dict[str, StoredChunk]:
    """The collection as a finished ingest of ``chunks`` leaves it."""
    return {c.chunk_id: StoredChunk(c.content_hash, model, c.article_id) for c in chunks}


def _plan(
    chunks: Sequence[WantedChunk], stored: Mapping[str, StoredChunk], articles: int = 1
) -> IngestPlan:
    return plan_ingest(chunks, stored, model=MODEL, articles=articles)


def _apply(
    plan: IngestPlan, chunks: Sequence[WantedChunk], stored: Mapping[str, StoredChunk]
) -> dict[str, StoredChunk]:
    """What the collection holds after the plan is carried out."""
    after = {i: s for i, s in stored.items() if i not in plan.delete}
    by_id = {c.chunk_id: c for c in chunks}
    after.update(
        {i: StoredChunk(by_id[i].content_hash, MODEL, by_id[i].article_id) for i in plan.write}
    )
    return after


def test_chunk_ids_are_stable_across_runs_and_releases() -> None:
    # Pinned: a different id for the same chunk would duplicate every chunk of a collection.
    assert chunk_uuid("kb-activate-card", 0) == "fc241eba-f470-54fb-b7f7-8bc61495ef3b"
    assert chunk_uuid("kb-activate-card", 1) != chunk_uuid("kb-activate-card", 0)
    assert chunk_uuid("kb-a", 0) != chunk_uuid("kb-b", 0)


def test_an_empty_collection_gets_every_chunk_added_in_chunk_order() -> None:
    chunks = _wanted("kb-a", ["h1", "h2"]) + _wanted("kb-b", ["h3"])
    plan = _plan(chunks, {}, articles=2)
    assert plan.write == tuple(c.chunk_id for c in chunks)
    assert plan.delete == ()
    assert plan.foreign_models == ()
    report = plan.report
    assert (report.articles, report.chunks, report.added, report.updated) == (2, 3, 3, 0)
    assert (report.deleted, report.unchanged) == (0, 0)
    assert report.changed_articles == ("kb-a", "kb-b")


def test_unchanged_articles_are_not_reingested() -> None:
    chunks = _wanted("kb-a", ["h1", "h2"]) + _wanted("kb-b", ["h3"])
    plan = _plan(chunks, _stored_as(chunks), articles=2)
    assert (plan.write, plan.delete) == ((), ())
    assert (plan.report.added, plan.report.updated, plan.report.deleted) == (0, 0, 0)
    assert plan.report.unchanged == 3
    assert plan.report.changed_articles == ()


def test_an_edited_section_is_rewritten_as_an_update_and_nothing_else_is() -> None:
    before = _wanted("kb-a", ["h1", "h2"]) + _wanted("kb-b", ["h3"])
    now = _wanted("kb-a", ["h1", "h2-edited"]) + _wanted("kb-b", ["h3"])
    plan = _plan(now, _stored_as(before), articles=2)
    assert plan.write == (chunk_uuid("kb-a", 1),)
    assert plan.delete == ()
    assert (plan.report.added, plan.report.updated, plan.report.unchanged) == (0, 1, 2)
    assert plan.report.changed_articles == ("kb-a",)


def test_a_new_section_is_added_and_a_new_article_too() -> None:
    before = _wanted("kb-a", ["h1"])
    now = _wanted("kb-a", ["h1", "h2"]) + _wanted("kb-new", ["h3"])
    plan = _plan(now, _stored_as(before), articles=2)
    assert plan.write == (chunk_uuid("kb-a", 1), chunk_uuid("kb-new", 0))
    assert (plan.report.added, plan.report.updated, plan.report.unchanged) == (2, 0, 1)
    assert plan.report.changed_articles == ("kb-a", "kb-new")


def test_a_shortened_article_loses_its_surplus_chunks() -> None:
    before = _wanted("kb-a", ["h1", "h2", "h3"]) + _wanted("kb-b", ["h4"])
    now = _wanted("kb-a", ["h1"]) + _wanted("kb-b", ["h4"])
    plan = _plan(now, _stored_as(before), articles=2)
    assert plan.write == ()
    assert plan.delete == tuple(sorted([chunk_uuid("kb-a", 1), chunk_uuid("kb-a", 2)]))
    assert (plan.report.deleted, plan.report.added, plan.report.unchanged) == (2, 0, 2)
    assert plan.report.changed_articles == ("kb-a",)


def test_a_removed_article_has_all_its_chunks_deleted_and_counts_as_changed() -> None:
    kept = _wanted("kb-b", ["h4"])
    plan = _plan(kept, _stored_as(_wanted("kb-a", ["h1", "h2"]) + kept))
    assert set(plan.delete) == {chunk_uuid("kb-a", 0), chunk_uuid("kb-a", 1)}
    assert list(plan.delete) == sorted(plan.delete)
    assert plan.report.deleted == 2
    assert plan.report.changed_articles == ("kb-a",)


def test_vectors_of_another_model_are_named_so_the_ingest_can_refuse() -> None:
    chunks = _wanted("kb-a", ["h1"])
    stored = _stored_as(chunks, model="old-model") | _stored_as(
        _wanted("kb-b", ["h2"]), model="other-model"
    )
    assert _plan(chunks, stored).foreign_models == ("old-model", "other-model")
    assert _plan(chunks, _stored_as(chunks)).foreign_models == ()


def test_the_article_count_is_reported_as_given() -> None:
    assert _plan([], {}, articles=7).report.articles == 7


# -- properties over any knowledge base and any collection ------------------------------------

_ARTICLES = st.sampled_from(["kb-a", "kb-b", "kb-c", "kb-d"])
_HASHES = st.sampled_from(["h1", "h2", "h3"])  # few, so chunks often match what is stored


@st.composite
def knowledge_bases(draw: st.DrawFn) -> list[WantedChunk]:
    """Chunks of distinct articles, sections numbered from 0 as ``chunk_uuid`` expects."""
    articles = draw(st.lists(_ARTICLES, unique=True, max_size=4))
    return [
        chunk
        for article in articles
        for chunk in _wanted(article, draw(st.lists(_HASHES, min_size=1, max_size=4)))
    ]


@st.composite
def collections(draw: st.DrawFn) -> dict[str, StoredChunk]:
    """What an earlier ingest (of some other version of the knowledge base) left behind."""
    return _stored_as(draw(knowledge_bases()))


@settings(max_examples=300, deadline=None)
@given(knowledge_bases(), collections())
def test_carrying_out_the_plan_leaves_exactly_the_wanted_chunks(
    chunks: list[WantedChunk], stored: dict[str, StoredChunk]
) -> None:
    after = _apply(_plan(chunks, stored), chunks, stored)
    assert {i: s.content_hash for i, s in after.items()} == {
        c.chunk_id: c.content_hash for c in chunks
    }


@settings(max_examples=300, deadline=None)
@given(knowledge_bases(), collections())
def test_ingesting_again_after_an_ingest_plans_nothing(
    chunks: list[WantedChunk], stored: dict[str, StoredChunk]
) -> None:
    after = _apply(_plan(chunks, stored), chunks, stored)
    again = _plan(chunks, after)
    assert (again.write, again.delete, again.report.changed_articles) == ((), (), ())
    assert again.report.unchanged == len(chunks)


@settings(max_examples=300, deadline=None)
@given(knowledge_bases(), collections())
def test_the_report_accounts_for_every_chunk_and_names_only_touched_articles(
    chunks: list[WantedChunk], stored: dict[str, StoredChunk]
) -> None:
    plan = _plan(chunks, stored)
    report = plan.report
    assert report.added + report.updated + report.unchanged == report.chunks == len(chunks)
    assert report.added + report.updated == len(plan.write)
    assert report.added == sum(1 for i in plan.write if i not in stored)
    assert report.deleted == len(plan.delete)
    assert set(plan.delete) <= set(stored)

    def sections(collection: Mapping[str, tuple[str, str]], article: str) -> dict[str, str]:
        return {i: h for i, (a, h) in collection.items() if a == article}

    old = {i: (s.article_id, s.content_hash) for i, s in stored.items()}
    new = {c.chunk_id: (c.article_id, c.content_hash) for c in chunks}
    touched = {
        article
        for article in {a for a, _ in old.values()} | {a for a, _ in new.values()}
        if sections(old, article) != sections(new, article)
    }
    assert report.changed_articles == tuple(sorted(touched))


def test_the_store_and_its_plan_import_no_llama_index() -> None:
    """Only ingest needs LlamaIndex (seconds to import): serving, and commands that merely
    import the store (``supportbus asyncapi``), must not pay for it."""
    code = (
        "import sys, supportbus_retriever.weaviate_store, supportbus_retriever.weaviate_search; "
        "print(any(m == 'llama_index' or m.startswith('llama_index.') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
