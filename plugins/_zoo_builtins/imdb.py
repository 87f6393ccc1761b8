"""Built-in dataset ``imdb``: the Large Movie Review Dataset (Maas et al., 2011).

Registration only; the reader lives in :mod:`_zoo_builtins.imdb_reader` and is imported when the
dataset is built, so that listing components never imports numpy or the data code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from zoo import hookimpl

OFFICIAL_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
#: sha256 of the official archive (84,125,825 bytes), as published by several dataset libraries.
OFFICIAL_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"


class ImdbConfig(BaseModel):
    """IMDB movie reviews from the Stanford archive or its extracted folder: their sentiment
    (pos = 1, neg = 0) or their star rating (the ``<rating>`` of each ``<id>_<rating>.txt``).

    The data come from the spec's ``data.source`` (a path or URL), else the environment variable
    ``ZOO_IMDB_SOURCE``, else the official address (downloaded once into the cache).
    """

    model_config = ConfigDict(extra="forbid")

    split: Literal["official", "random"] = Field(
        "official",
        description=(
            "official: the 25,000 training reviews give train and valid (valid_size, seeded, "
            "class-balanced), test = the 25,000 test reviews. random: the tutorial's way, all "
            "50,000 shuffled, half for test, valid_size of the rest for valid."
        ),
    )
    target: Literal["sentiment", "rating"] = Field(
        "sentiment",
        description=(
            "sentiment: neg/pos, from the folder. rating: the stars in each file name "
            "(<id>_<rating>.txt: 1-4 and 7-10, 8 classes named '1'..'10', in numeric order); "
            "the validation reviews are then drawn in proportion to the ratings."
        ),
    )
    valid_size: PositiveInt = Field(5000, description="Reviews held out of training for validation.")
    url: str = Field(OFFICIAL_URL, description="Address downloaded when no local source is named.")
    sha256: str | None = Field(
        OFFICIAL_SHA256,
        description="Checksum of the archive at `url` (a URL in data.source may carry its own as "
        "#sha256=HEX). An address other than the official one is never downloaded without one; "
        "null skips the check for the official address only.",
    )
    extract: bool = Field(
        False,
        description=(
            "Extract an archive into the cache and read the files from there, instead of "
            "reading it in one pass without extracting (faster, nothing written)."
        ),
    )
    max_review_bytes: PositiveInt = Field(
        1_000_000, description="Refuse review files larger than this (the largest real one is ~14 kB)."
    )
    max_files: PositiveInt = Field(
        500_000,
        description="Refuse an archive of more members, or a folder of more review files (the "
        "official archive has about 100,000 members).",
    )
    max_total_bytes: PositiveInt = Field(
        1_000_000_000,
        description="Refuse an archive whose members, or a folder whose review files, add up to more "
        "bytes than this uncompressed (the official archive: about a quarter of that).",
    )


@hookimpl
def register_components(registry) -> None:
    registry.register(
        "dataset",
        "imdb",
        config=ImdbConfig,
        factory="_zoo_builtins.imdb_reader:build",
        description="IMDB movie reviews, pos/neg or star ratings, from the Stanford archive or its folder.",
    )
