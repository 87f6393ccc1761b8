"""Made-up IMDB-shaped data for tests: no real review text ever enters the project.

Each review is a random mix of neutral filler with a few sentiment words drawn for its label,
so a model can learn the task in an epoch or two on a few hundred reviews.
"""

from __future__ import annotations

import random
from pathlib import Path

POSITIVE = ["great", "wonderful", "superb", "moving", "brilliant", "delightful", "fine"]
NEGATIVE = ["awful", "boring", "dull", "terrible", "clumsy", "tedious", "weak"]
FILLER = ["the", "film", "movie", "plot", "actor", "scene", "and", "was", "a", "it", "story",
          "camera", "music", "ending", "script", "director", "of", "in", "with", "this"]


def make_review(rng: random.Random, positive: bool) -> str:
    words = rng.choices(FILLER, k=rng.randint(3, 25))
    cue = POSITIVE if positive else NEGATIVE
    for _ in range(rng.randint(2, 4)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(cue))
    text = " ".join(words).capitalize() + "."
    if rng.random() < 0.3:
        text = text.replace(" ", "<br /><br />", 1)
    return text


def make_imdb_folder(root: Path, per_label: int = 60, seed: int = 0) -> Path:
    """An ``aclImdb/`` folder with ``per_label`` reviews in each of train/test × pos/neg."""
    rng = random.Random(seed)
    base = root / "aclImdb"
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = base / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_label):
                rating = rng.randint(7, 10) if label == "pos" else rng.randint(1, 4)
                (folder / f"{i}_{rating}.txt").write_text(make_review(rng, label == "pos"), encoding="utf-8")
    return base
