"""The ``zoo`` command line: inspect the registry and specs, prepare data, train, evaluate, predict.

Every verb is a small function taking the parsed arguments. A :class:`zoo.errors.ZooError` ends
the command with its message alone and exit status 2; a Ctrl-C with status 130, a SIGTERM
(``kill``, a container stopping) likewise, with status 143. Heavy modules
(torch, the trainer) are imported inside the verbs that need them, so ``zoo --help`` and
``zoo list`` start quickly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from zoo import __version__
from zoo.errors import ZooError
from zoo.hookspecs import KINDS
from zoo.user_paths import note_path, path_errors

Command = Callable[[argparse.Namespace], int | None]

#: Arguments that name a path, with how a message names them (see :mod:`zoo.user_paths`).
PATH_ARGUMENTS = {"spec": "the spec", "out": "--out", "resume": "--resume", "run": "the run", "source": "--source",
                  "input": "--input", "output": "--output"}


def _registry():
    from zoo.plugins import get_registry

    return get_registry()


def _load_spec(args: argparse.Namespace):
    from zoo.spec import load_spec

    return load_spec(args.spec, args.overrides)


# --- inspection ------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> None:
    """Every registered component, with the plugin it came from."""
    from zoo.console import out, print_json, table

    components = [c for c in _registry() if args.kind in (None, c.kind)]
    rows = [
        {
            "kind": c.kind,
            "name": c.name,
            "plugin": c.plugin.name,
            "distribution": c.plugin.distribution,
            "version": c.plugin.version,
            "description": c.description,
        }
        for c in components
    ]
    if args.json:
        print_json(rows)
        return
    from rich.markup import escape

    out().print(
        table(
            "Registered components",
            ["kind", "name", "plugin", "from", "description"],
            # a plugin's text is shown as written, "[brackets]" included, never read as markup
            [[r["kind"], r["name"], r["plugin"], str(c.plugin), escape(r["description"])]
             for r, c in zip(rows, components)],
        )
    )


def _field_rows(config) -> list[dict[str, Any]]:
    schema = config.model_json_schema()
    rows = []
    for name, prop in schema.get("properties", {}).items():
        if name == "type":
            continue
        constraints = {
            key: prop[key]
            for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "enum", "minItems")
            if key in prop
        }
        rows.append(
            {
                "field": name,
                "type": _schema_type(prop),
                "required": config.model_fields[name].is_required(),
                "default": None if config.model_fields[name].is_required()
                else config.model_fields[name].get_default(call_default_factory=True),
                "constraints": constraints,
                "description": prop.get("description", ""),
            }
        )
    return rows


def _schema_type(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    if "anyOf" in prop:
        return " | ".join(_schema_type(p) for p in prop["anyOf"])
    if prop.get("type") == "array":
        return f"list[{_schema_type(prop.get('items', {}))}]"
    return str(prop.get("type", "object"))


def cmd_show(args: argparse.Namespace) -> None:
    """One component's config fields: type, default, constraints, description."""
    from zoo.console import out, print_json, table
    from zoo.errors import UnknownComponentError
    from zoo.registry import KINDS

    registry = _registry()
    kind, _, name = args.name.rpartition("/")
    if kind:
        matches = [registry.get(kind, name)]
    else:
        matches = registry.find(name)
        if not matches:
            everything = sorted({c.name for c in registry})
            import difflib

            near = difflib.get_close_matches(name, everything, n=1)
            hint = f" Did you mean '{near[0]}'?" if near else ""
            note = registry.unavailable_note(KINDS, name)
            raise UnknownComponentError(
                f"no component named '{name}'; registered: {', '.join(everything)}"
                + (note if note.startswith(";") else f".{hint}{note}")
            )
    if len(matches) > 1:
        raise UnknownComponentError(
            f"'{name}' names several components; say which: "
            + ", ".join(f"{c.kind}/{c.name}" for c in matches)
        )
    component = matches[0]
    rows = _field_rows(component.config)
    if args.json:
        print_json({"kind": component.kind, "name": component.name, "plugin": component.plugin.name,
                    "description": component.description, "fields": rows})
        return
    from rich.markup import escape

    out().print(f"[bold]{component.kind} '{component.name}'[/] from plugin {escape(component.plugin.name)} "
                f"({escape(str(component.plugin))})\n{escape(component.description)}")
    out().print(
        table(
            None,
            ["field", "type", "default", "constraints", "description"],
            [[r["field"], escape(r["type"]), "(required)" if r["required"] else escape(json.dumps(r["default"])),
              escape(", ".join(f"{k}={v}" for k, v in r["constraints"].items())), escape(r["description"])]
             for r in rows],
        )
    )


def cmd_schema(args: argparse.Namespace) -> None:
    """The JSON Schema of the whole spec, every registered component included."""
    from zoo.console import print_json
    from zoo.spec import spec_schema

    print_json(spec_schema(_registry()))


def cmd_validate(args: argparse.Namespace) -> None:
    """Validate a spec file (and overrides); every problem is reported with its dotted path."""
    from zoo.console import out, safe

    spec = _load_spec(args)
    model = spec.model
    out().print(
        f"[green]valid[/]: {safe(args.spec)} — tokenizer {spec.tokenizer.type}, dataset {spec.data.dataset.type}, "
        f"encoder {model.encoder.type}, head {model.head.type}, {spec.train.epochs} epochs"
    )


def cmd_recipes(args: argparse.Namespace) -> None:
    """The recipes shipped with zoo, each with its recorded result and its recorded variants."""
    from zoo.console import out, print_json, table
    from zoo.spec import list_recipes, read_spec_file, recorded_results

    results = recorded_results()
    rows = []
    for name, path in list_recipes().items():
        variants = [
            {"label": label, "overrides": result.get("overrides", []), "result": result}
            for label, result in results.items() if result.get("recipe") == name and label != name
        ]
        rows.append({"name": name, "description": read_spec_file(path).get("description", ""),
                     "path": str(path), "result": results.get(name), "variants": variants})
    if args.json:
        print_json(rows)
        return

    def cells(result: dict | None) -> list:
        if not result:
            return ["not recorded", "", "", ""]
        return [f"{result['test_accuracy']:.2%}", f"{result['epochs']} ({result['best_epoch']})",
                result["train_seconds_per_epoch"], f"{result['parameters']:,}"]

    lines = []
    for r in rows:
        lines.append([r["name"], *cells(r["result"]), r["description"]])
        lines += [[f"  ↳ {v['label']}", *cells(v["result"]), "--set " + " --set ".join(v["overrides"])]
                  for v in r["variants"]]
    out().print(
        table(
            "Recipes (results: official test split, python benchmarks/train_recipes.py NAME)",
            ["name", "test accuracy", "epochs (best)", "s/epoch", "parameters", "description"],
            lines,
        )
    )


def cmd_plugins(args: argparse.Namespace) -> None:
    """Every plugin: version, hooks implemented, components registered, error if any."""
    from zoo.console import out, print_json, safe, table
    from zoo.plugins import get_plugins

    plugins = get_plugins()
    shown = [p for p in plugins.loaded if args.all or not p.info.builtin or p.error]
    rows = [
        {
            "name": p.info.name,
            "distribution": p.info.distribution,
            "version": p.info.version,
            "builtin": p.info.builtin,
            "hooks": p.hooks,
            "components": p.components,
            "error": p.error,
            "disabled": False,
        }
        for p in shown
    ]
    rows += [  # installed but skipped: listed so that nobody wonders where its components went
        {"name": p.info.name, "distribution": p.info.distribution, "version": p.info.version,
         "builtin": p.info.builtin, "hooks": [], "components": [], "error": None, "disabled": True}
        for p in plugins.registry.unavailable.values() if p.disabled
    ]
    if args.json:
        print_json(rows)
        return
    out().print(
        table(
            "Plugins" + ("" if args.all else " (built-ins hidden; --all shows them)"),
            ["plugin", "from", "hooks", "components", "status"],
            [
                [r["name"] + (" (built-in)" if r["builtin"] else ""), f"{r['distribution'] or '-'} {r['version'] or ''}",
                 "\n".join(r["hooks"]), "\n".join(r["components"]),
                 _plugin_status(r)]
                for r in rows
            ],
        )
    )


def _plugin_status(row: dict[str, Any]) -> str:
    from zoo.console import safe

    if row["disabled"]:
        return "[yellow]disabled (ZOO_DISABLE_PLUGINS)[/]"
    return f"[red]broken: {safe(row['error'])}[/]" if row["error"] else "[green]ok[/]"


# --- the parser ------------------------------------------------------------------------------


def _add_spec_arguments(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    parser.add_argument(
        "spec", nargs="?" if default else None, default=default,
        help="spec file (.yaml/.json/.toml) or recipe name" + (f" (default: {default})" if default else ""),
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
        help="override a field by dotted path, e.g. --set train.epochs=3 (value parsed as YAML)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo", description="A plugin-based model zoo for recurrent text classifiers."
    )
    parser.add_argument("--version", action="version", version=f"zoo {__version__}")
    parser.add_argument(
        "-p", "--plugin", dest="plugins", action="append", default=[], metavar="MODULE",
        help="load MODULE as a plugin without installing it, from the current folder or the path "
        "(repeatable; also ZOO_PLUGINS=a,b)",
    )
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND")

    def verb(name: str, func: Command, help: str) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, help=help, description=help)
        sub.set_defaults(func=func)
        return sub

    sub = verb("list", cmd_list, "list registered components")
    sub.add_argument("--kind", choices=KINDS)
    sub.add_argument("--json", action="store_true", help="print JSON")

    sub = verb("show", cmd_show, "show one component's config fields")
    sub.add_argument("name", help="component name, or KIND/NAME when several kinds share it")
    sub.add_argument("--json", action="store_true", help="print JSON")

    verb("schema", cmd_schema, "print the JSON Schema of the spec").set_defaults(json=True)

    sub = verb("validate", cmd_validate, "check a spec file and report every problem")
    _add_spec_arguments(sub)

    sub = verb("recipes", cmd_recipes, "list the recipes shipped with zoo")
    sub.add_argument("--json", action="store_true", help="print JSON")

    sub = verb("plugins", cmd_plugins, "list plugins, their hooks, components and errors")
    sub.add_argument("--all", action="store_true", help="include zoo's built-in plugins")
    sub.add_argument("--json", action="store_true", help="print JSON")

    _add_run_verbs(verb, _add_spec_arguments)
    return parser


def _add_run_verbs(verb, add_spec_arguments) -> None:
    """The verbs that touch data and models (see :mod:`zoo.commands`)."""
    from zoo import commands

    commands.add_verbs(verb, add_spec_arguments)


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The arguments, texts of ``zoo predict`` allowed after its options too.

    argparse fills a ``TEXT...`` list once, right after ``RUN``, so ``zoo predict RUN --top-k 2
    "a text"`` would be "unrecognized arguments"; the words it leaves over are the texts.
    """
    args, rest = parser.parse_known_args(argv)
    before, dashes, after = rest, [], []
    if "--" in rest:  # what follows "--" is texts, even "-1 stars"
        at = rest.index("--")
        before, dashes, after = rest[:at], ["--"], rest[at + 1:]
    if rest and isinstance(getattr(args, "texts", None), list) and not any(
            word.startswith("-") and word != "-" for word in before):
        args.texts.extend(before + after)
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(before + dashes + after)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = build_parser()
    args = _parse(parser, argv)
    if args.command is None:
        parser.print_help()
        return 0
    from zoo.memory import own_process

    own_process()  # the command's process is zoo's: its malloc and thread settings are ours to tune
    # zoo serve installs its own (it drains, then exits 0); a caller's own handler is back on return
    from zoo.signals import Terminated, on_sigterm

    previous = signal.signal(signal.SIGTERM, on_sigterm(os.getpid()))
    try:
        if args.plugins:
            from zoo.plugins import add_plugin_modules

            add_plugin_modules(args.plugins)
        with path_errors():
            for option, origin in PATH_ARGUMENTS.items():
                note_path(getattr(args, option, None), origin)
            if not getattr(args, "json", False):
                return args.func(args) or 0
            from zoo.console import json_only_stdout

            with json_only_stdout():  # whatever plugins print, stdout holds the JSON alone
                return args.func(args) or 0
    except ZooError as exc:
        from zoo.console import err, safe

        err().print(f"[bold red]error:[/] {safe(exc, newlines=True)}", highlight=False)
        return exc.exit_code
    except ModuleNotFoundError as exc:  # a package of an extra that is not installed: say which
        from zoo.extras import missing_message

        message = missing_message(exc, args.command)
        if message is None:
            raise
        from zoo.console import err, safe

        err().print(f"[bold red]error:[/] {safe(message)}", highlight=False)
        return 2
    except BrokenPipeError:
        from zoo.console import reader_gone

        return reader_gone()
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"zoo: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 128 + signal.SIGTERM if terminated else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
