"""`tail` counts attribute values as codes (analysis.runs.Coded): a text column factorised, the
in-place read's texts matched from their hashes (runs_in_place.from_hashes: a few texts one at
a time, more by binary search after the rows without text; two texts with one hash, or a hash
of no text, refuse), and the support filter and the tests over codes the same as over texts."""

from __future__ import annotations

import numpy as np
import pytest

from mantis_runs.analysis.enrichment import enrich, supported
from mantis_runs.analysis.runs import Coded
from mantis_runs.analysis.runs_in_place import _FEW_TEXTS, from_hashes


def texts(*values: str | None) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def test_a_text_column_as_codes_and_back() -> None:
    column = texts("b", None, "a", "b", None, "c", "a")
    found = Coded.of(column)
    assert found.values == ["b", "a", "c"]  # first appearance, None is no value
    assert found.codes.tolist() == [0, -1, 1, 0, -1, 2, 1]
    assert found.texts().tolist() == column.tolist()
    assert found[np.array([True, True, False, False, False, True, False])].texts().tolist() \
        == ["b", None, "c"]
    assert Coded.of(texts()).texts().tolist() == [] and Coded.of(texts(None)).values == []


@pytest.mark.parametrize("n_texts", [3, _FEW_TEXTS, _FEW_TEXTS + 1, 200])
def test_texts_matched_from_their_hashes(n_texts: int) -> None:
    rng = np.random.default_rng(n_texts)
    keys = (rng.choice(2**62, size=n_texts, replace=False) + 1).astype(np.uint64)
    names: list[str | None] = [None, *(f"t{i}" for i in range(n_texts - 1))]
    pairs = list(zip(names, keys.tolist(), strict=True))
    rows = rng.integers(0, n_texts, 5000)
    rows[:n_texts] = np.arange(n_texts)  # every text has a row
    found = from_hashes(keys[rows], pairs)
    assert found is not None
    assert found.texts().tolist() == [names[i] for i in rows.tolist()]
    assert found.values == names[1:]
    # a row whose hash is no text's, and two texts with one hash, cannot be told apart
    stray = keys[rows].copy()
    stray[-1] = np.uint64(int(keys.max()) + 1)
    assert from_hashes(stray, pairs) is None
    stray[-1] = np.uint64(int(keys.min()) - 1)
    assert from_hashes(stray, pairs) is None
    assert from_hashes(keys[rows], [*pairs, ("again", int(keys[1]))]) is None


def test_no_rows_and_no_texts() -> None:
    empty = np.zeros(0, dtype=np.uint64)
    found = from_hashes(empty, [])
    assert found is not None and len(found) == 0 and found.values == []
    assert from_hashes(np.array([7], dtype=np.uint64), []) is None


def test_codes_and_texts_give_the_same_tests() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    model = texts(*rng.choice(["m0", "m1", "m2", None], n, p=[0.5, 0.3, 0.15, 0.05]).tolist())
    tenant = texts(*(f"t{i}" for i in rng.integers(0, 60, n)))
    tail = rng.random(n) < 0.05 + 0.1 * (model == "m2")
    as_texts = {"model": model, "tenant_id": tenant}
    # codes whose values are in another order than first appearance
    as_codes = {name: reordered(Coded.of(column)) for name, column in as_texts.items()}
    for floor in (1, 20, 70):
        assert enrich(as_codes, tail, floor) == enrich(as_texts, tail, floor)
        assert supported(as_codes, floor) == supported(as_texts, floor)  # dict equality
    first_seen = list(dict.fromkeys(v for v in model.tolist() if v is not None))
    assert list(supported(as_texts, 1)["model"]) == first_seen
    assert list(supported(as_codes, 1)["model"]) == first_seen[::-1]
    found = enrich(as_codes, tail, 20)
    assert [c.value for c in found if c.finding] == ["m2"]


def reordered(column: Coded) -> Coded:
    """The same column with its values reversed (each code moved along)."""
    k = len(column.values)
    codes = np.where(column.codes >= 0, k - 1 - column.codes, -1)
    return Coded(codes, column.values[::-1])
