"""The taxonomy file: the shipped one is valid, and broken ones fail naming the YAML path."""

from __future__ import annotations

import copy

import pytest
import yaml

from aisec_radar.errors import TaxonomyError
from aisec_radar.taxonomy import load_taxonomy
from aisec_radar.taxonomy.loader import default_taxonomy_path, parse_taxonomy

NINE = ["data_decryption", "watermark_removal", "poisoning", "harmful_finetuning", "jailbreak",
        "model_inversion", "membership_inference", "data_extraction", "model_extraction"]


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(default_taxonomy_path().read_text())


def test_shipped_taxonomy_is_complete() -> None:
    tax = load_taxonomy()
    assert list(tax.type_ids) == NINE
    assert set(tax.label_ids) == set(NINE) | {"other_aisec", "not_relevant"}
    assert set(tax.axes) == {"DD", "DM", "MD", "MM"}
    assert tax.axis_of("jailbreak", "arxiv_v1") == "DM"
    assert tax.axis_of("jailbreak", "openreview") == "DD"
    assert tax.axis_of("model_extraction") == "MM"
    assert tax.axis_of("other_aisec") is None
    for t in tax.types:
        assert t.definition and t.cues and t.confusable and t.representative, t.id
    assert set(tax.roles) == {"attack", "defense", "evaluation", "analysis", "survey"}
    assert set(tax.modalities) == {"vision", "language", "audio", "graph", "multimodal", "tabular", "other"}


def _mutate(raw: dict, fn) -> dict:
    d = copy.deepcopy(raw)
    fn(d)
    return d


@pytest.mark.parametrize(
    "mutation, match",
    [
        (lambda d: d["types"].append(copy.deepcopy(d["types"][0])), "duplicate id 'data_decryption'"),
        (lambda d: d["axis_maps"]["arxiv_v1"]["map"].pop("jailbreak"),
         r"axis_maps.arxiv_v1.map: type 'jailbreak' is not mapped"),
        (lambda d: d["axis_maps"]["openreview"]["map"].update(poisoning="XX"),
         r"axis_maps.openreview.map.poisoning: unknown axis 'XX'"),
        (lambda d: d["types"][2]["confusable"].append("backdoors"), r"types\[2\].confusable\[\d+\]: 'backdoors'"),
        (lambda d: d["types"][1].pop("definition"), r"types\[1\]: missing required key 'definition'"),
        (lambda d: d["types"][0]["representative"][0].update(arxiv_id="not-an-id"),
         r"types\[0\].representative\[0\].arxiv_id"),
        (lambda d: d.update(default_axis_map="tmlr"), "default_axis_map: 'tmlr'"),
        (lambda d: d["out_of_taxonomy"].pop(), "missing required class"),
    ],
)
def test_invalid_taxonomy_names_the_path(raw: dict, mutation, match: str) -> None:
    with pytest.raises(TaxonomyError, match=match):
        parse_taxonomy(_mutate(raw, mutation))


def test_check_labels_lists_valid_ids() -> None:
    tax = load_taxonomy()
    tax.check_labels(["jailbreak", "poisoning"])
    with pytest.raises(TaxonomyError, match="valid types: data_decryption"):
        tax.check_labels(["jailbrake"])
    with pytest.raises(TaxonomyError, match="cannot be combined"):
        tax.check_labels(["jailbreak", "not_relevant"])
