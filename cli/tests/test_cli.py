"""The operator CLI's interface (other tooling calls `supportbus eval ... --json`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from supportbus_classifier.training import LabelledTexts, read_labelled_csv, stratified_split
from supportbus_cli.main import app
from supportbus_cli.publishing import read_requests_file
from supportbus_cli.settings import CliSettings
from supportbus_runtime.errors import PermanentError

runner = CliRunner()


def _write_csv(path: Path, data: LabelledTexts) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "category"])
        writer.writerows(zip(data.texts, data.labels, strict=True))
    return path


@pytest.fixture(scope="module")
def small_split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Six examples per intent to train, two to test: real MiniLM, a few seconds."""
    full = read_labelled_csv(CliSettings().banking77_train())
    by_label: dict[str, list[str]] = {}
    for text, label in zip(full.texts, full.labels, strict=True):
        by_label.setdefault(label, []).append(text)
    small = LabelledTexts([], [])
    for label, texts in by_label.items():
        small.texts.extend(texts[:8])
        small.labels.extend([label] * len(texts[:8]))
    train, test = stratified_split(small, 0.25)
    root = tmp_path_factory.mktemp("csv")
    return _write_csv(root / "train.csv", train), _write_csv(root / "test.csv", test)


@pytest.mark.model
def test_eval_classify_json_has_the_agreed_keys(
    small_split: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = small_split
    plot = tmp_path / "reliability.png"
    result = runner.invoke(
        app,
        [
            "eval",
            "classify",
            "--train",
            str(train),
            "--test",
            str(test),
            "--json",
            "--plot",
            str(plot),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"accuracy", "macro_f1", "ece", "ms_per_request", "feature_set"} <= report.keys()
    assert 0.3 < report["accuracy"] <= 1.0  # 6 examples per intent, 77 intents: far above chance
    assert 0 <= report["ece"] < 0.5
    assert report["ms_per_request"] > 0
    assert len(report["confused_pairs"]) == 10
    assert all(p["true"] != p["predicted"] and p["count"] >= 1 for p in report["confused_pairs"])
    assert set(report["category_f1"]) == {"account_and_identity", "card_payments", "cards"} | {
        "cash_withdrawals",
        "exchange",
        "fees",
        "top_ups",
        "transfers",
    }
    shares = [row["share_below"] for row in report["thresholds"]]
    assert shares == sorted(shares)  # a higher threshold never sends fewer requests on
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.model
def test_eval_retrieve_json_has_the_agreed_keys(small_split: tuple[Path, Path]) -> None:
    _, test = small_split
    result = runner.invoke(app, ["eval", "retrieve", "--test", str(test), "--k", "3", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"recall_at_1", "recall_at_k", "mrr"} <= report.keys()
    assert report["recall_at_1"] <= report["recall_at_k"]
    assert report["recall_at_k"] > 0.3


@pytest.mark.model
def test_eval_retrieve_expands_only_with_train_and_shows_every_mode(
    small_split: tuple[Path, Path],
) -> None:
    train, test = small_split
    result = runner.invoke(
        app,
        ["eval", "retrieve", "--test", str(test), "--train", str(train), "--mode", "all", "--json"],
    )
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout.strip().splitlines()[-1])["results"]
    assert [r["mode"] for r in reports] == ["fused", "vector", "lexical"]
    assert {r["expansion_questions"] for r in reports} == {len(read_labelled_csv(train))}
    plain = runner.invoke(app, ["eval", "retrieve", "--test", str(test), "--mode", "all"])
    assert plain.exit_code == 0, plain.output
    assert "articles only (no --train)" in plain.stdout
    assert plain.stdout.count("\n") >= 5  # header, column names and one row per mode


@pytest.mark.model
def test_eval_retrieve_on_the_haystack_store_shows_its_modes_and_refuses_train(
    small_split: tuple[Path, Path],
) -> None:
    train, test = small_split
    argv = ["eval", "retrieve", "--test", str(test), "--store", "haystack"]
    result = runner.invoke(app, [*argv, "--mode", "all", "--json"])
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout.strip().splitlines()[-1])["results"]
    assert [(r["store"], r["mode"]) for r in reports] == [
        ("haystack", "fused"),
        ("haystack", "vector"),
        ("haystack", "lexical"),
    ]
    assert all(0.3 < r["recall_at_k"] <= 1.0 for r in reports), reports
    hybrid = runner.invoke(app, [*argv, "--mode", "hybrid"])
    assert hybrid.exit_code != 0
    assert "needs --store weaviate" in " ".join(hybrid.output.split())
    expanded = runner.invoke(app, [*argv, "--train", str(train)])
    assert expanded.exit_code != 0
    assert "for the local store only" in " ".join(expanded.output.split())


@pytest.mark.model
def test_eval_retrieve_refuses_a_train_file_that_shares_texts_with_the_test(
    small_split: tuple[Path, Path],
) -> None:
    _, test = small_split
    result = runner.invoke(app, ["eval", "retrieve", "--test", str(test), "--train", str(test)])
    assert result.exit_code != 0
    said = " ".join(result.output.split())  # the console wraps long lines
    assert "are also in --train" in said
    assert "--drop-overlap" in said


def test_publish_needs_exactly_one_source() -> None:
    result = runner.invoke(app, ["publish"])
    assert result.exit_code == 2
    assert "exactly one of --text or --file" in result.output


def test_invalid_request_lines_are_reported_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_text(
        '{"channel": "chat", "customer_id": "c", "body": "ok"}\n'
        "not json\n"
        '{"channel": "fax", "customer_id": "c", "body": "secret words"}\n'
    )
    with pytest.raises(PermanentError) as caught:
        read_requests_file(path)
    message = str(caught.value)
    assert "requests.jsonl:2:" in message
    assert "requests.jsonl:3: channel:" in message
    assert "secret words" not in message


def test_request_lines_keep_their_request_id(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_text(
        '{"request_id": "case-1", "channel": "api", "customer_id": "c", "body": "b"}\n'
        '{"channel": "api", "customer_id": "c", "body": "b"}\n'
    )
    lines = read_requests_file(path)
    assert lines[0].request_id == "case-1"
    assert lines[1].request_id.startswith("req-")


def test_train_refuses_data_with_intents_missing_from_the_taxonomy(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "t.csv", LabelledTexts(["hi"], ["no_such_intent"]))
    result = runner.invoke(app, ["train", "--data", str(data), "--out", str(tmp_path / "m.npz")])
    assert result.exit_code == 1  # a ClassifierError: the command failed (not a configuration)
    assert "no_such_intent" in result.output
    assert not (tmp_path / "m.npz").exists()
