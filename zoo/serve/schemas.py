"""The JSON the server accepts and answers, as pydantic models (validation and ``/docs``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PredictRequest(BaseModel):
    """``POST /predict``: the texts to label. Types are strict: a number is not a text."""

    model_config = ConfigDict(extra="forbid", strict=True)

    texts: list[str] = Field(description="the texts to label; answers come in the same order")
    top_k: int | None = Field(None, ge=1, description="keep the k most probable labels in each answer's "
                                                      "probabilities (default: every label)")


class Prediction(BaseModel):
    label: str | list[str] = Field(description="the predicted label (a list of labels for a multilabel model)")
    probability: float = Field(description="the probability of that label (multilabel: of the most probable)")
    probabilities: dict[str, float] = Field(description="label -> probability, most probable first")


class PredictResponse(BaseModel):
    predictions: list[Prediction]


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer."""

    error: str = Field(description="what was wrong, and what would be accepted")


def describe_problems(errors: Sequence[Any]) -> str:
    """Pydantic's errors as one message, each problem naming its field by path (``texts.2: ...``)."""
    problems = []
    for error in errors:
        where = ".".join(str(part) for part in error["loc"]) or "body"
        problems.append(f"{where}: {_message(error)}")
    return "invalid request: " + "; ".join(problems)


def _message(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field; the fields are 'texts' (a list of strings) and 'top_k' (optional, an integer >= 1)"
    if error["type"] == "model_type":
        return "the body must be a JSON object like {\"texts\": [\"...\"]}"
    return error["msg"]
