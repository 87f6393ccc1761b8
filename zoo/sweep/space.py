"""The space file: which spec fields a sweep varies, over what values, toward which metric.

A YAML (or JSON) file, read as data only::

    metric: valid_accuracy        # a metric the trainer records per epoch; direction follows
    sampler: tpe                  # tpe | random | grid
    pruner: median                # median | hyperband | none, or {type: median, startup_trials: 2}
    seed: 1                       # optional: the sampler's seed (one worker: a reproducible sweep)
    params:
      model.encoder.type: {choice: [lstm, gru]}
      model.encoder.hidden_size: {int: [32, 256], log: true}
      train.optimizer.lr: {float: [1.0e-4, 1.0e-2], log: true}
      model.head.hidden_sizes: {choice: [[64], [128, 64]]}

Each ``params`` key is a dotted spec path, set in every trial as ``--set`` would set it (a new
component ``type`` starts that component from its defaults). Before any trial starts,
:func:`check_against` builds the spec with every choice and both ends of every range (alone,
then all first values and all last values together), so a wrong path or value is one line
naming it, not a failed trial an hour later.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
    model_validator,
)

from zoo.errors import SpecError, ZooError
from zoo.spec import TrainSpec, apply_overrides, validate_spec

#: Metrics a sweep can optimise: those the trainer records per epoch and can select a checkpoint by.
METRICS: tuple[str, ...] = get_args(TrainSpec.model_fields["monitor"].annotation)
#: Spec paths a space may not vary: each trial selects its checkpoint by the space's metric.
FIXED_PATHS = ("train.monitor",)
MAX_GRID = 1_000_000


class SpaceError(ZooError):
    """A space file that cannot be used; one line per problem, naming the field."""

    def __init__(self, problems: list[str], source: str | Path) -> None:
        self.problems = problems
        if len(problems) == 1:
            message = f"invalid search space {source}: {problems[0]}"
        else:
            message = f"invalid search space {source} ({len(problems)} problems):\n  " + "\n  ".join(problems)
        super().__init__(message)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)


Scalar = str | int | float | bool | None


def _not_a_boolean(value: Any) -> Any:
    """YAML reads ``true`` as a boolean, which pydantic would take for the integer 1."""
    if isinstance(value, bool):
        raise ValueError(f"Input should be a valid integer, not the boolean {str(value).lower()}")
    return value


Whole = Annotated[int, BeforeValidator(_not_a_boolean)]
#: Range ends and steps are finite: Optuna cannot sample from a range reaching infinity.
Finite = Annotated[float, Field(allow_inf_nan=False)]


class Param(_Strict):
    """One varied field: ``{choice: [...]}``, ``{int: [low, high]}`` or ``{float: [low, high]}``;
    ranges take ``log: true`` (sample the logarithm uniformly) or a ``step``."""

    choice: list[Any] | None = Field(None, min_length=1)
    int_range: tuple[Whole, Whole] | None = Field(None, alias="int")
    float_range: tuple[Finite, Finite] | None = Field(None, alias="float")
    log: bool = False
    step: Finite | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_distribution(self) -> Param:
        given = [name for name, value in (("choice", self.choice), ("int", self.int_range),
                                          ("float", self.float_range)) if value is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of choice: [...], int: [low, high] or float: [low, high]"
                             + (f" (got {' and '.join(given)})" if given else ""))
        if self.choice is not None:
            if self.log or self.step is not None:
                raise ValueError("log and step apply to int and float ranges, not to a choice")
            encoded = [encode(value) for value in self.choice]
            if len(set(map(json.dumps, encoded))) != len(encoded):
                raise ValueError(f"choice lists a value twice: {self.choice}")
            return self
        low, high = self.int_range or self.float_range
        if low > high:
            raise ValueError(f"range [{low}, {high}] is empty: its low end is above its high end")
        if self.log and self.step is not None:
            raise ValueError("give log or step, not both")
        if self.log and low <= 0:
            raise ValueError(f"log: true needs a range above zero (got [{low}, {high}])")
        if self.int_range is not None and self.step is not None and self.step != int(self.step):
            raise ValueError(f"an int range needs a whole step (got {self.step})")
        if self.float_range is not None and self.step is not None:
            steps = (high - low) / self.step
            if abs(steps - round(steps)) > 1e-9 * max(1.0, abs(steps)):
                raise ValueError(f"step {self.step} does not divide the range [{low}, {high}]")
        return self

    def probes(self) -> list[Any]:
        """The values :func:`check_against` builds the spec with: every choice, both range ends."""
        if self.choice is not None:
            return list(self.choice)
        low, high = self.int_range or self.float_range
        return [low, self.grid()[-1]] if self.step is not None else [low, high]

    def sample(self, name: str, trial: Any) -> Any:
        """This parameter's value for an Optuna ``trial``."""
        if self.choice is not None:
            encoded = [encode(value) for value in self.choice]
            return self.choice[encoded.index(trial.suggest_categorical(name, encoded))]
        if self.int_range is not None:
            step = int(self.step or 1)
            return trial.suggest_int(name, *self.int_range, step=step, log=self.log)
        value = trial.suggest_float(name, *self.float_range, step=self.step, log=self.log)
        return value if self.step is None else round(value, 12)  # 0.3, not 0.30000000000000004

    def grid(self) -> list[Any]:
        """Every value of this parameter, for the grid sampler (encoded as Optuna stores them)."""
        if self.choice is not None:
            return [encode(value) for value in self.choice]
        if self.int_range is not None and not self.log:
            low, high = self.int_range
            return list(range(low, high + 1, int(self.step or 1)))
        if self.float_range is not None and self.step is not None:
            low, high = self.float_range
            count = round((high - low) / self.step)
            return [round(low + k * self.step, 12) for k in range(count + 1)]
        raise ValueError("the grid sampler needs a choice, an int range without log, or a float range with a step")

    def decode(self, stored: Any) -> Any:
        """The spec value of a value Optuna stored for this parameter."""
        if self.choice is None:
            return stored
        return self.choice[[encode(value) for value in self.choice].index(stored)]


def encode(value: Any) -> Scalar:
    """A choice as Optuna can store it: scalars as they are, lists and mappings as JSON text."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, sort_keys=True)


class Pruner(_Strict):
    """When to stop a hopeless trial (``none`` never does)."""

    type: Literal["median", "hyperband", "none"] = "median"
    startup_trials: NonNegativeInt = Field(5, description="median: trials that finish before any is pruned.")
    warmup_epochs: NonNegativeInt = Field(0, description="median: epochs a trial runs before it may be pruned.")
    min_epochs: PositiveInt = Field(1, description="hyperband: the fewest epochs a trial runs.")
    reduction_factor: int = Field(3, ge=2, description="hyperband: how many trials per bracket go on.")


class Space(_Strict):
    """What a sweep varies and how it searches."""

    metric: str = "valid_accuracy"
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    pruner: Annotated[Pruner, BeforeValidator(lambda v: {"type": v} if isinstance(v, str) else v)] = Pruner()
    seed: int | None = None
    params: dict[str, Param] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_metric(self) -> Space:
        if self.metric not in METRICS:
            raise ValueError(f"metric {self.metric!r} is not one the trainer records; use one of {', '.join(METRICS)}")
        if self.sampler == "grid":
            for name, param in self.params.items():
                try:
                    param.grid()
                except ValueError as exc:
                    raise ValueError(f"params: {name}: {exc}") from None
            size = self.grid_size()
            if size > MAX_GRID:
                raise ValueError(f"the grid holds {size:,} combinations (at most {MAX_GRID:,})")
        return self

    @property
    def direction(self) -> str:
        """``minimize`` for a loss, ``maximize`` for everything else."""
        return "minimize" if self.metric.endswith("_loss") else "maximize"

    def grid(self) -> dict[str, list[Any]]:
        return {name: param.grid() for name, param in self.params.items()}

    def grid_size(self) -> int:
        """How many trials the grid sampler can run (unbounded for the other samplers)."""
        if self.sampler != "grid":
            return 2**62
        size = 1
        for values in self.grid().values():
            size *= len(values)
        return size


def parse_space(data: Any, source: str | Path) -> Space:
    """Validate raw space data; every problem is one line naming its field."""
    if not isinstance(data, dict):
        raise SpaceError([f"a space file is a mapping with params: (and metric:, sampler:, pruner:), "
                          f"not {type(data).__name__}"], source)
    try:
        return Space.model_validate(data)
    except ValidationError as exc:
        raise SpaceError([_problem(error) for error in exc.errors()], source) from None


def _problem(error: dict[str, Any]) -> str:
    loc = list(error["loc"])
    if loc[:1] == ["params"] and len(loc) > 1:
        loc = [f"params: {loc[1]}", *loc[2:]]
    where = ".".join(str(part) for part in loc)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field; " + ("a parameter takes choice, int or float, with log or step"
                                       if where.startswith("params")
                                       else "valid fields: metric, sampler, pruner, seed, params")
    elif isinstance(error.get("input"), (int, float, str, bool)) and error["type"] != "value_error":
        message += f" (got {error['input']!r})"
    return f"{where}: {message}" if where else message


def load_space(path: str | Path) -> tuple[Space, dict[str, Any]]:
    """The space in ``path`` and its raw data (kept in the sweep folder as given)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpaceError(["no such file"], path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpaceError([f"cannot read it ({exc})"], path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise SpaceError([f"{where}malformed YAML: {getattr(exc, 'problem', None) or exc}"], path) from None
    return parse_space(data, path), data


def trial_data(base: dict[str, Any], space: Space, values: dict[str, Any]) -> dict[str, Any]:
    """The raw spec of a trial: ``base`` with ``values`` set by path, selecting on the space's metric."""
    settings = {**values, "train.monitor": space.metric}
    return apply_overrides(base, [f"{path}={json.dumps(value)}" for path, value in settings.items()])


def trial_spec(base: dict[str, Any], space: Space, values: dict[str, Any], registry: Any = None) -> BaseModel:
    """The validated spec of a trial (see :func:`trial_data`)."""
    return validate_spec(trial_data(base, space, values), registry)


def check_against(space: Space, base: dict[str, Any], source: str | Path, registry: Any = None) -> None:
    """Build the spec with every probe value (see :meth:`Param.probes`); raise one
    :class:`SpaceError` listing each parameter that cannot be set, with the reason."""
    problems = [f"params: {path}: is set by the sweep (to the space's metric); remove it"
                for path in space.params if path in FIXED_PATHS]
    for path, param in space.params.items():
        for value in param.probes():
            problem = _try(base, space, {path: value}, registry)
            if problem:
                problems.append(_name(path, value, problem))
                break
    if not problems and len(space.params) > 1:
        for label, index in (("first", 0), ("last", -1)):
            values = {path: param.probes()[index] for path, param in space.params.items()}
            problem = _try(base, space, values, registry)
            if problem:
                problems.append(f"params: every parameter at its {label} value ({_show(values)}) gives an invalid "
                                f"spec: {problem[0]}: {problem[1]}")
    if problems:
        raise SpaceError(problems, source)


def _try(base: dict[str, Any], space: Space, values: dict[str, Any], registry: Any) -> tuple[str, str] | None:
    try:
        spec = trial_spec(base, space, values, registry)
    except SpecError as exc:
        return exc.problems[0]
    return _vectors_problem(spec.model.embedding)


def _vectors_problem(embedding: Any) -> tuple[str, str] | None:
    """Whether a trial's ``model.embedding.vectors`` file is missing or of another dimension:
    found at its start, it would stop the worker, and every resume would retry it in vain."""
    if embedding.vectors is None:
        return None
    from zoo.errors import DataError
    from zoo.vectors import vectors_dim

    try:
        dim = vectors_dim(embedding.vectors)
    except DataError as exc:
        return "model.embedding.vectors", str(exc).removeprefix("model.embedding.vectors: ")
    if dim != embedding.dim:
        return "model.embedding.dim", f"the vectors in {embedding.vectors} are {dim}-dimensional"
    return None


def _name(path: str, value: Any, problem: tuple[str, str]) -> str:
    where, message = problem
    if "unknown field" in message and where != path and path.startswith(where + "."):
        return f"params: {path}: {where}: {message}"
    if where != path:
        return f"params: {path}: {json.dumps(value)} makes the spec invalid: {where}: {message}"
    if "unknown field" in message or "(got " in message:
        return f"params: {path}: {message}"
    return f"params: {path}: {json.dumps(value)}: {message}"


def _show(values: dict[str, Any]) -> str:
    return ", ".join(f"{path}={json.dumps(value)}" for path, value in values.items())
