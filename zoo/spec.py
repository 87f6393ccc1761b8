"""The spec: one pydantic model that says what to train, built from what the registry holds.

Every component field (``tokenizer``, ``data.dataset``, ``model.encoder``, ``model.head``, each
entry of ``loggers``) is a discriminated union on ``type`` over the components registered for
that kind, so a spec naming a third-party encoder is validated against that encoder's own config
model. A component may be written as its bare name (``encoder: gru``) when its defaults will do.

A spec comes from a YAML, JSON or TOML file, a shipped recipe name, a dict or Python objects;
``--set a.b=value`` overrides apply to the raw data before validation, so they are validated too.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    create_model,
)

from zoo.errors import RunError, SpecError
from zoo.limits import MAX_SPEC_BYTES, MAX_SPEC_DEPTH, MAX_SPEC_VALUES
from zoo.registry import Registry
from zoo.runfiles import read_file

RECIPES_DIR = Path(__file__).parent / "recipes"
SPEC_SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".toml": "toml"}

#: The component each kind defaults to when the spec leaves it out (if that one is registered).
DEFAULT_COMPONENTS = {"tokenizer": "words", "dataset": "imdb", "encoder": "lstm", "head": "mlp"}


#: Upper bounds that catch a mistyped size before it reaches torch as an out-of-memory crash.
MAX_WIDTH = 65_536
MAX_BATCH = 1_000_000


class StrictModel(BaseModel):
    """Base of every spec section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class EmbeddingSpec(StrictModel):
    """The token embedding in front of the encoder (padding index 0)."""

    dim: PositiveInt = Field(20, le=MAX_WIDTH, description="Embedding size per token.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on embedded tokens.")
    vectors: str | None = Field(
        None, description="Pretrained word vectors to start from: a word2vec/GloVe/fastText text file "
        "(optionally .gz) or a word2vec binary file, of dimension dim (see zoo/vectors.py).",
    )
    freeze: bool = Field(False, description="Keep the embedding fixed during training (usually with vectors).")


class OptimizerSpec(StrictModel):
    """The optimizer, by name, with its arguments."""

    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: PositiveFloat = Field(1e-3, description="Learning rate.")
    weight_decay: NonNegativeFloat = 0.0
    momentum: NonNegativeFloat = Field(0.0, description="SGD only.")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam/AdamW only.")


class SchedulerSpec(StrictModel):
    """An optional learning-rate schedule, stepped once per epoch."""

    name: Literal["cosine", "step"] = "cosine"
    step_size: PositiveInt = Field(1, description="step: epochs between decays.")
    gamma: PositiveFloat = Field(0.5, description="step: decay factor.")
    min_lr: NonNegativeFloat = Field(0.0, description="cosine: final learning rate.")


class EarlyStoppingSpec(StrictModel):
    """Stop when the monitored validation metric has not improved for ``patience`` epochs."""

    patience: PositiveInt = 3
    min_delta: NonNegativeFloat = 0.0


class TaskSpec(StrictModel):
    """What the model predicts (see zoo/task.py): by default whatever the data hold."""

    type: Literal["auto", "binary", "multiclass", "multilabel"] = Field(
        "auto", description="auto: multilabel data -> multilabel, two labels -> binary, more -> multiclass."
    )
    threshold: float = Field(0.5, gt=0.0, lt=1.0, description="multilabel: the probability from which a label is given.")
    class_weights: Literal["balanced"] | dict[str, PositiveFloat] | None = Field(
        None, description="binary/multiclass: weight each class's loss, 'balanced' (inverse frequency "
        "in training) or {label: weight} (others 1).",
    )


def _auto_or_shard_count(value: Any) -> Any:
    """``auto`` or 1..1024, with one message instead of pydantic's one per arm of the union."""
    text = str(value)
    if value == "auto" or (not isinstance(value, (bool, float)) and text.isdigit() and 1 <= int(text) <= 1024):
        return value
    raise ValueError(f"must be 'auto' or a number of shards from 1 to 1024 (got {value!r})")


class TrainSpec(StrictModel):
    """How to train: epochs, batches, optimizer, regularisation, selection, hardware."""

    epochs: PositiveInt = Field(10, le=100_000)
    batch_size: PositiveInt = Field(32, le=MAX_BATCH)
    eval_batch_size: PositiveInt = Field(
        256, le=MAX_BATCH, description="Batch size for validation and test."
    )
    bucketing: bool = Field(
        True, description="Group reviews of similar length into batches (less padding)."
    )
    max_tokens: PositiveInt | None = Field(
        None,
        le=1_000_000_000,
        description="Also bound each training batch to this many padded tokens (reviews x the longest "
        "of them): long reviews then come fewer at a time, so memory stays bounded. Off by default.",
    )
    bucket_pool: PositiveInt = Field(
        10,
        description="Batches per sorting pool when bucketing: larger pools pad less but make "
        "batches less random (over 3 seeds, pools of 10, 25 and 100 gave the default recipe "
        "85.32%, 85.31% and 85.59% mean test accuracy: benchmarks/bucket_pool.py).",
    )
    optimizer: OptimizerSpec = OptimizerSpec()
    clip_grad_norm: PositiveFloat | None = Field(None, description="Clip the gradient norm.")
    scheduler: SchedulerSpec | None = None
    early_stopping: EarlyStoppingSpec | None = None
    monitor: Literal["valid_accuracy", "valid_loss", "valid_macro_f1"] = Field(
        "valid_accuracy", description="Metric that selects the best checkpoint (and stops early). "
        "Accuracy is subset accuracy for multilabel tasks."
    )
    seed: int = 1
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="Autocast precision of forward passes (fp16: CUDA only, with loss scaling)."
    )
    threads: PositiveInt | None = Field(None, le=1024, description="CPU threads (default: torch's).")
    cpu_shards: Annotated[
        int | Literal["auto"],
        BeforeValidator(_auto_or_shard_count, json_schema_input_type=Annotated[int, Field(ge=1, le=1024)] | Literal["auto"]),
    ] = Field(
        "auto",
        description="On the CPU, split each batch's recurrent layers into this many shards (1 to "
        "1024), run at once on one thread each: the same arithmetic, faster on several cores "
        "(auto: one per CPU thread; 1: off).",
    )


def _each_logger_once(loggers: list[Any]) -> list[Any]:
    """The loggers as given, refusing a type listed twice (both would write the same files)."""
    types = [logger.type for logger in loggers]
    twice = sorted({name for name in types if types.count(name) > 1})
    if twice:
        raise ValueError(f"{', '.join(repr(n) for n in twice)} listed more than once; list each logger once")
    return loggers


def _component_union(registry: Registry, kind: str) -> Any:
    """``Annotated[Union[...], discriminator]`` over the registered ``kind`` components."""
    models = [component.config for component in registry.of_kind(kind)]
    if not models:
        return Annotated[dict[str, Any], BeforeValidator(_no_component(registry, kind))]

    def check(value: Any) -> Any:
        if isinstance(value, str):
            value = {"type": value}
        if isinstance(value, dict) and "type" not in value:
            raise ValueError(f"needs a 'type', one of: {', '.join(registry.names(kind))}")
        if isinstance(value, dict) and value["type"] not in registry.names(kind):
            raise ValueError(registry.unknown_message(kind, value["type"]))
        return value

    union = Annotated[Union[tuple(models)], Field(discriminator="type")]
    # What a spec may write, for the JSON Schema: the bare name too, where its defaults validate
    # (a component with a required field, such as a table's files, needs the mapping form).
    bare = tuple(c.name for c in registry.of_kind(kind) if _defaults_validate(c.config, c.name))
    written = Union[Literal[bare], union] if bare else union
    return Annotated[union, BeforeValidator(check, json_schema_input_type=written)]


def _defaults_validate(config: type[BaseModel], name: str) -> bool:
    """Whether ``{type: name}`` alone is a valid config (no required field, no failing check)."""
    try:
        config.model_validate({"type": name})
    except ValidationError:
        return False
    return True


def _no_component(registry: Registry, kind: str) -> Any:
    def fail(value: Any) -> Any:
        raise ValueError(registry.unknown_message(kind, value.get("type") if isinstance(value, dict) else value))

    return fail


def _component_field(registry: Registry, kind: str) -> tuple[Any, Any]:
    default = DEFAULT_COMPONENTS.get(kind)
    union = _component_union(registry, kind)
    if default in registry.names(kind):
        return union, Field(default_factory=lambda: {"type": default}, validate_default=True)
    return union, ...


def _build_spec_model(registry: Registry) -> type[BaseModel]:
    strict = ConfigDict(extra="forbid")
    logger = _component_union(registry, "logger")
    data = create_model(
        "DataSpec",
        __config__=strict,
        __doc__="Which data, how much of it, and how its vocabulary is built.",
        dataset=_component_field(registry, "dataset"),
        source=(str | None, Field(None, description="Path or URL of the data (dataset-specific default).")),
        limit=(PositiveInt | None, Field(None, description="Class-balanced subset of N per split.")),
        seed=(int, Field(1, description="Seed of the split and of the subset.")),
        min_freq=(PositiveInt, Field(1, description="Drop words seen fewer times in training.")),
        max_size=(PositiveInt | None, Field(None, description="Keep the most frequent N words.")),
        max_length=(PositiveInt | None, Field(None, description="Truncate reviews to N tokens.")),
    )
    model = create_model(
        "ModelSpec",
        __config__=strict,
        __doc__="Embedding -> encoder -> head.",
        embedding=(EmbeddingSpec, EmbeddingSpec()),
        encoder=_component_field(registry, "encoder"),
        head=_component_field(registry, "head"),
    )
    return create_model(
        "Spec",
        __config__=strict,
        __doc__="A zoo training spec.",
        name=(str, Field("unnamed", description="Name of the recipe or experiment.")),
        description=(str, ""),
        task=(
            # ``task: multiclass`` stands for ``{type: multiclass}``; the schema says so too
            Annotated[TaskSpec, BeforeValidator(lambda v: {"type": v} if isinstance(v, str) else v,
                                                json_schema_input_type=TaskSpec.model_fields["type"].annotation
                                                | TaskSpec)],
            TaskSpec(),
        ),
        tokenizer=_component_field(registry, "tokenizer"),
        data=(data, Field(default_factory=dict, validate_default=True)),
        model=(model, Field(default_factory=dict, validate_default=True)),
        train=(TrainSpec, TrainSpec()),
        loggers=(
            Annotated[
                list[logger],
                # one logger may be written alone; the schema says so too
                BeforeValidator(lambda v: [v] if isinstance(v, (str, dict)) else v,
                                json_schema_input_type=list[logger] | logger),
                AfterValidator(_each_logger_once),
            ],
            Field(
                default_factory=list,
                description="Loggers to run during training, each by name or as {type: NAME, ...} "
                "(zoo list --kind logger; installed: "
                f"{', '.join(registry.names('logger')) or 'none'}). metrics.jsonl is always written.",
            ),
        ),
    )


def spec_model(registry: Registry | None = None) -> type[BaseModel]:
    """The ``Spec`` model for ``registry`` (default: every installed plugin's components)."""
    if registry is None:
        from zoo.plugins import get_registry

        registry = get_registry()
    if registry.spec_model is None:
        registry.spec_model = _build_spec_model(registry)
    return registry.spec_model


def spec_schema(registry: Registry | None = None) -> dict[str, Any]:
    """The JSON Schema of the spec, every registered component of every kind included."""
    return spec_model(registry).model_json_schema()


# ---------------------------------------------------------------------------------------------
# Reading specs


def list_recipes() -> dict[str, Path]:
    """The recipes shipped with zoo, by name."""
    return {path.stem: path for path in sorted(RECIPES_DIR.glob("*.yaml"))}


def recorded_results() -> dict[str, Any]:
    """Results of the shipped recipes as measured by ``benchmarks/train_recipes.py``."""
    path = RECIPES_DIR / "results.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def resolve_spec_path(source: str | Path) -> Path:
    """A spec file's path from a path or a recipe name."""
    path = Path(source)
    if path.is_file():
        return path
    recipes = list_recipes()
    if str(source) in recipes:
        return recipes[str(source)]
    if path.exists():
        raise SpecError([("", f"{path} is not a file")])
    import difflib

    near = difflib.get_close_matches(str(source), list(recipes), n=1)
    hint = f" Did you mean recipe '{near[0]}'?" if near else ""
    raise SpecError(
        [("", f"no spec file '{source}' and no recipe of that name; recipes: {', '.join(recipes)}.{hint}")]
    )


def read_spec_file(path: Path, run: Path | None = None) -> dict[str, Any]:
    """The raw data of a spec file, parsed as data only (YAML's safe loader: no code runs).

    The file must be a regular file of at most :data:`zoo.limits.MAX_SPEC_BYTES` (inside the
    run directory ``run``, for a run's ``spec.yaml``), and its data are bounded (see
    :func:`check_spec_size`).
    """
    fmt = SPEC_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise SpecError([("", f"{path}: unknown spec format '{path.suffix}'; use {', '.join(SPEC_SUFFIXES)}")])
    try:
        text = read_file(path, MAX_SPEC_BYTES, run).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([("", f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    except RunError as exc:
        if run is not None:
            raise
        raise SpecError([("", str(exc))]) from None
    try:
        if fmt == "yaml":
            data = yaml.safe_load(text)
        elif fmt == "json":
            data = json.loads(text) if text.strip() else None
        else:
            data = tomllib.loads(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError([("", f"{path}:{where} malformed YAML: {problem}")]) from None
    except json.JSONDecodeError as exc:
        raise SpecError([("", f"{path}: line {exc.lineno}, column {exc.colno}: malformed JSON: {exc.msg}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError([("", f"{path}: malformed TOML: {exc}")]) from None
    except RecursionError:
        raise SpecError([("", f"{path}: nested more than {MAX_SPEC_DEPTH} levels deep; a spec is not")]) from None
    if data is None:
        raise SpecError([("", f"{path} is empty; a spec is a mapping such as 'model: {{encoder: lstm}}'")])
    if not isinstance(data, dict):
        raise SpecError([("", f"{path}: a spec must be a mapping of sections, not {type(data).__name__}")])
    check_spec_size(data, str(path))
    return data


def check_spec_size(data: Any, where: str) -> None:
    """Refuse data nested more than ``MAX_SPEC_DEPTH`` levels deep or holding more than
    ``MAX_SPEC_VALUES`` values with YAML aliases expanded, or an alias to itself (see
    :mod:`zoo.limits`).

    Specs are shared, and a few hundred bytes of nested YAML aliases expand to gigabytes wherever
    the data are walked (copied, validated, printed). An alias is one shared object after
    parsing, so this walks each once: such a file is refused in microseconds.
    """
    seen: dict[int, tuple[int, int] | None] = {}  # id -> (values, depth below), None while walked

    def fail(problem: str) -> SpecError:
        return SpecError([("", f"{where}: {problem}; a spec is not (are YAML aliases expanding it?)")])

    def walk(node: Any, depth: int) -> tuple[int, int]:
        if not isinstance(node, (dict, list)):
            return 1, 0
        if id(node) in seen:
            known = seen[id(node)]
            if known is None:
                raise fail("holds an alias to itself, which expands without end")
            values, below = known
        else:
            seen[id(node)] = None
            values, below = 1, 0
            for child in (node.values() if isinstance(node, dict) else node):
                if depth + 1 > MAX_SPEC_DEPTH:
                    raise fail(f"nests more than {MAX_SPEC_DEPTH} levels deep")
                child_values, child_below = walk(child, depth + 1)
                values, below = values + child_values, max(below, child_below + 1)
                if values > MAX_SPEC_VALUES:
                    raise fail(f"holds more than {MAX_SPEC_VALUES:,} values")
            seen[id(node)] = values, below
        if depth + below > MAX_SPEC_DEPTH:
            raise fail(f"nests more than {MAX_SPEC_DEPTH} levels deep")
        return values, below

    walk(data, 0)


#: Where each kind's component sits in a spec (``loggers`` is a list, not one component).
COMPONENT_PATHS: dict[str, tuple[str, ...]] = {
    "tokenizer": ("tokenizer",),
    "dataset": ("data", "dataset"),
    "encoder": ("model", "encoder"),
    "head": ("model", "head"),
}
_KIND_AT = {path: kind for kind, path in COMPONENT_PATHS.items()}

# YAML 1.2's core schema, for ``--set`` values: plain decimal numbers, true/false, null. Unlike
# YAML 1.1 (PyYAML's default), ``010`` is ten, ``1:30`` is a string, and ``#`` starts no comment.
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")


def core_scalar(text: str) -> Any:
    """A plain scalar's value under YAML 1.2's core schema (anything else stays the text)."""
    if _NULL.match(text):
        return None
    if _BOOL.match(text):
        return text.lower() == "true"
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        lowered = text.lower().replace(".inf", "inf").replace(".nan", "nan")
        return float(lowered)
    return text


class _CoreLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema scalars, for flow values like ``[16, 32]``."""

    yaml_implicit_resolvers: dict = {}


for _tag, _pattern in (("null", _NULL), ("bool", _BOOL), ("int", _INT), ("float", _FLOAT)):
    _CoreLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", _pattern, None)
_CoreLoader.add_constructor("tag:yaml.org,2002:int", lambda loader, node: int(node.value))
_CoreLoader.add_constructor("tag:yaml.org,2002:float", lambda loader, node: core_scalar(node.value))
_CoreLoader.add_constructor("tag:yaml.org,2002:bool", lambda loader, node: node.value.lower() == "true")


def parse_override_value(raw: str) -> Any:
    """The value of ``--set path=RAW``: a YAML 1.2 core scalar, or a quoted or flow YAML value.

    ``[16, 32]`` and ``{type: gru, hidden_size: 8}`` are parsed as YAML flow collections and
    ``'text'`` as a quoted string; anything else is a plain scalar taken as a whole, so a path
    such as ``/data/imdb #1/aclImdb`` arrives unchanged.
    """
    text = raw.strip()
    if text[:1] in ("[", "{", "'", '"'):
        try:
            return yaml.load(text, Loader=_CoreLoader)  # noqa: S506 - a safe loader subclass
        except (yaml.YAMLError, RecursionError):
            return raw
    return core_scalar(text)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``dotted.path=value`` overrides to a copy of ``data`` (see :func:`parse_override_value`)."""
    return _apply_overrides(data, overrides)[0]


def _apply_overrides(
    data: dict[str, Any], overrides: list[str], values: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    """The overridden copy of ``data`` and, per path set, ``(override as written, raw value)``.

    ``values`` are set as they are, unparsed (paths from options such as ``--source``). Only the
    mappings along each path are copied, so YAML aliases elsewhere are never expanded.

    - A component left at its default gets its default ``type`` before a field is set in it, so
      ``model.encoder.hidden_size=8`` works on a spec that does not name the encoder.
    - Changing a component's ``type`` drops the old component's fields (they belong to it) but
      keeps the fields set for it earlier in the same command.
    """
    data = dict(data)
    origins: dict[str, tuple[str, str]] = {}
    items = [(o, *_split_override(o)) for o in overrides]
    items += [(f"{key}={value}", key, value, False) for key, value in (values or {}).items()]
    for override, key, raw, parse in items:
        value = parse_override_value(raw) if parse else raw
        parts = key.split(".")
        node = data
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            kind = _KIND_AT.get(tuple(parts[: depth + 1]))
            if isinstance(child, str):  # a component given by bare name
                child = {"type": child}
            elif child is None and kind is not None and kind in DEFAULT_COMPONENTS:
                child = {"type": DEFAULT_COMPONENTS[kind]}
            elif not isinstance(child, dict):
                if child is not None:
                    raise SpecError([(".".join(parts[: depth + 1]), f"is {child!r}, not a section; cannot set '{key}'")])
                child = {}
            node[part] = child = dict(child)
            node = child
        kind_path = tuple(parts[:-1]) if parts[-1] == "type" else tuple(parts)
        retyped = kind_path in _KIND_AT and (parts[-1] == "type" or isinstance(value, str))
        if retyped:
            node = _retype(data, kind_path, value, origins)
        if parts[-1] == "type" or not retyped:
            node[parts[-1]] = value
        origins[key] = (override, raw if parse else str(raw))
    return data, origins


def _split_override(override: str) -> tuple[str, str, bool]:
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise SpecError([("", f"override '{override}' must look like section.field=value")])
    return key.strip(), raw, True


def _retype(data: dict[str, Any], path: tuple[str, ...], name: Any, origins: dict[str, tuple[str, str]]) -> dict:
    """Make the component at ``path`` a ``name`` one; a new type keeps only this command's fields."""
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    old = parent.get(path[-1])
    old = {"type": old} if isinstance(old, str) else dict(old or {})
    if old.get("type") != name:
        prefix = ".".join(path) + "."
        kept = {field: old[field] for field in old if prefix + field in origins and field != "type"}
        old = {"type": name, **kept}
    parent[path[-1]] = old
    return old


def load_spec(
    source: str | Path | dict[str, Any] | BaseModel,
    overrides: list[str] | None = None,
    registry: Registry | None = None,
    values: dict[str, Any] | None = None,
) -> BaseModel:
    """Load and validate a spec from a file, a recipe name, a dict or a spec object.

    ``overrides`` are ``--set`` strings; ``values`` map dotted paths to values set unparsed.
    """
    where = None
    if isinstance(source, BaseModel):
        data = source.model_dump()  # python values: a DataFrame in the spec stays one
    elif isinstance(source, dict):
        data = source
    else:
        path = resolve_spec_path(source)
        where = str(path)
        data = read_spec_file(path)
    origins: dict[str, tuple[str, str]] = {}
    if overrides or values:
        data, origins = _apply_overrides(data, list(overrides or []), values)
    return validate_spec(data, registry, where, origins)


def validate_spec(
    data: dict[str, Any],
    registry: Registry | None = None,
    source: str | None = None,
    overridden: dict[str, tuple[str, str]] | None = None,
) -> BaseModel:
    """Validate raw spec data; every fault is reported with its dotted path in one SpecError.

    ``overridden`` (path -> (override, raw text)) lets a string field take an override's text as
    written (``name=2024`` is the name "2024"), and names the override behind each fault.
    """
    model = spec_model(registry)
    overridden = overridden or {}
    for attempt in range(2):
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            retyped = _texts_for_string_fields(exc, data, overridden) if attempt == 0 else None
            if retyped is None:
                problems = [(path, _blame(path, message, overridden))
                            for path, message in format_validation_errors(exc, data, model)]
                if all(message.endswith(")") and "(from --set " in message for _, message in problems):
                    source = "the --set overrides" + (f" of {source}" if source else "")
                raise SpecError(problems, source) from None
            data = retyped
    raise AssertionError("unreachable")


def _texts_for_string_fields(
    exc: ValidationError, data: dict[str, Any], overridden: dict[str, tuple[str, str]]
) -> dict[str, Any] | None:
    """``data`` with each overridden value that a string field refused replaced by its text."""
    fixes = {}
    for error in exc.errors():
        path = _input_path(error["loc"], data)
        if error["type"] == "string_type" and path in overridden:
            fixes[path] = overridden[path][1]
    if not fixes:
        return None
    return _apply_overrides(data, [], fixes)[0]


def _blame(path: str, message: str, overridden: dict[str, tuple[str, str]]) -> str:
    """``message``, naming the ``--set`` override that caused it where one did."""
    causes = [override for key, (override, _) in overridden.items()
              if path == key or key.startswith(path + ".") or path.startswith(key + ".")]
    return f"{message} (from --set {causes[-1]})" if causes else message


def format_validation_errors(
    exc: ValidationError, data: Any, model: type[BaseModel]
) -> list[tuple[str, str]]:
    """``(dotted.path, message)`` per error, without pydantic's union-tag path segments."""
    problems = []
    for error in exc.errors():
        path = _input_path(error["loc"], data)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field" + _field_hint(model, error["loc"])
        elif isinstance(error.get("input"), (int, float, str, bool)) and error["type"] != "value_error":
            message += f" (got {error['input']!r})"
        problems.append((path, message))
    return problems


def _input_path(loc: tuple[Any, ...], data: Any) -> str:
    """The dotted path of ``loc`` in the user's input, skipping segments that are union tags."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(node, str) and parts:  # a bare component name stands for {'type': name}
            node = {"type": node}
        if isinstance(node, dict) and item in node:
            node = node[item]
            parts.append(str(item))
        elif isinstance(node, list) and isinstance(item, int) and item < len(node):
            node = node[item]
            parts.append(str(item))
        elif isinstance(node, dict) and isinstance(item, str) and item == node.get("type"):
            continue  # pydantic's discriminator tag
        else:
            parts.append(str(item))
            node = None
    return ".".join(parts)


def _field_hint(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """For an unknown field, the valid fields of its section and the nearest one."""
    import difflib

    def is_model(node: Any) -> bool:
        return isinstance(node, type) and issubclass(node, BaseModel)

    node: Any = model
    for item in loc[:-1]:
        if isinstance(node, dict):  # a union's members by tag
            node = node.get(item)
        elif is_model(node) and item in node.model_fields:
            node = _models_in(node.model_fields[item].annotation)
        elif isinstance(item, int) or (is_model(node) and "type" in node.model_fields
                                       and item == node.model_fields["type"].default):
            continue  # an index into the loggers list, or the tag of the only component of a kind
        else:
            return ""
    if not is_model(node):
        return ""
    fields = [name for name in node.model_fields if name != "type"]
    near = difflib.get_close_matches(str(loc[-1]), fields, n=1)
    if not fields:
        return "; it takes no fields"
    if near:
        return f"; did you mean '{near[0]}'? Valid fields: {', '.join(fields)}"
    return f"; valid fields: {', '.join(fields)}"


def _models_in(annotation: Any) -> Any:
    """The model class in an annotation, or ``{tag: model}`` for a discriminated union."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (list, Annotated):  # loggers: list[Annotated[Union[...], ...]]
        return _models_in(get_args(annotation)[0])
    models = [a for a in get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(models) == 1:
        return models[0]
    return {m.model_fields["type"].default: m for m in models if "type" in m.model_fields}
