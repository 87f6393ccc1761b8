"""imdb with target: rating: the stars in each file name as 8 numerically ordered classes."""

from __future__ import annotations

from collections import Counter

import pytest

from _zoo_builtins.imdb import ImdbConfig
from _zoo_builtins.imdb_reader import ImdbDataset
from zoo.data.prepare import prepare_data
from zoo.errors import DataError
from zoo.spec import load_spec

RATINGS = {"neg": [1, 2, 3, 4], "pos": [7, 8, 9, 10]}


def rated_reviews(per_rating: int = 5) -> dict[str, bytes]:
    """Reviews whose text names their own stars, ``per_rating`` of each rating per split."""
    files = {}
    for split in ("train", "test"):
        for folder, ratings in RATINGS.items():
            for rating in ratings:
                for i in range(per_rating):
                    files[f"{split}/{folder}/{rating * 100 + i}_{rating}.txt"] = f"stars{rating} review {i}".encode()
    return files


def rating(**config) -> ImdbDataset:
    return ImdbDataset(ImdbConfig(**{"valid_size": 8, "target": "rating", **config}))


def stars(dataset: ImdbDataset, split) -> list[str]:
    return [dataset.labels[label] for label in split.labels]


def test_ratings_are_eight_numerically_ordered_classes_from_the_file_names(tmp_path, data_cache, imdb_files):
    folder = imdb_files.folder(tmp_path / "f", files=rated_reviews())
    dataset = rating()
    splits = dataset.load(str(folder), data_cache, seed=1)
    assert dataset.labels == ["1", "2", "3", "4", "7", "8", "9", "10"]
    for split in splits.values():
        assert [text.split()[0] for text in split.texts] == [f"stars{s}" for s in stars(dataset, split)]
    assert {name: len(split) for name, split in splits.items()} == {"train": 32, "valid": 8, "test": 40}
    assert Counter(stars(dataset, splits["valid"])) == dict.fromkeys(dataset.labels, 1)  # stratified by rating
    archive = imdb_files.archive(tmp_path / "aclImdb_v1.tar.gz", files=rated_reviews())
    from_archive = rating().load(str(archive), data_cache, seed=1)
    assert {k: (v.texts, v.labels) for k, v in from_archive.items()} == {
        k: (v.texts, v.labels) for k, v in splits.items()
    }
    shuffled = rating(split="random").load(str(folder), data_cache, seed=1)
    assert sum(len(s) for s in shuffled.values()) == 80
    sentiment = ImdbDataset(ImdbConfig(valid_size=8)).load(str(folder), data_cache, seed=1)
    assert Counter(sentiment["test"].labels) == {0: 20, 1: 20}  # the default target is untouched


def test_only_the_ratings_that_occur_are_labels(tmp_path, data_cache, imdb_files):
    dataset = rating(valid_size=2)
    dataset.load(str(imdb_files.folder(tmp_path / "f", n=4)), data_cache)  # conftest: 2 and 8 stars only
    assert dataset.labels == ["2", "8"]


def test_a_file_name_without_a_rating_is_named(tmp_path, data_cache, imdb_files):
    files = {**rated_reviews(2), "train/pos/notes.txt": b"not a review"}
    folder = imdb_files.folder(tmp_path / "f", files=files)
    with pytest.raises(DataError, match=r"train/pos/notes\.txt: the file name does not end in _<rating>\.txt"):
        rating().load(str(folder), data_cache)
    rating(target="sentiment").load(str(folder), data_cache)  # sentiment does not read the name


def test_prepared_rating_data_and_the_rating_recipe(tmp_path, data_cache, data_registry, imdb_files):
    folder = imdb_files.folder(tmp_path / "f", files=rated_reviews())
    dataset = {"type": "imdb", "target": "rating", "valid_size": 8}
    spec = load_spec({"data": {"source": str(folder), "dataset": dataset}})
    data = prepare_data(spec, data_registry)
    assert data.labels == ["1", "2", "3", "4", "7", "8", "9", "10"] and not data.multilabel
    assert data.info["counts"]["test"] == dict.fromkeys(data.labels, 5)
    recipe = load_spec("imdb-rating")
    assert recipe.name == "imdb-rating" and recipe.data.dataset.target == "rating"
    assert load_spec("imdb-lstm").data.dataset.target == "sentiment"
