"""The CLI verbs that share a run: ``zoo export``, ``zoo card``, ``zoo pack`` (no torch at import)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from zoo.console import err, out, print_json, safe
from zoo.errors import RunError


def _say(message: str) -> None:
    err().print(safe(message), highlight=False)


def cmd_export(args: argparse.Namespace) -> None:
    """Write the run's best model as an export folder, checked against the run first."""
    from zoo.export.folder import export

    target = args.out or f"{Path(args.run).resolve()}-{args.format}"
    done = export(args.run, target, args.format, force=args.force, max_parameters=args.max_parameters,
                  progress=_say)
    if args.json:
        print_json(done)
        return
    check = done["self_check"]
    out().print(f"exported {safe(args.run)} to {safe(done['out'])} ({done['engine']}); self-check: {check['texts']} "
                f"texts, probabilities within {check['max_difference']:.2g} of the run's", highlight=False)


def cmd_card(args: argparse.Namespace) -> None:
    """(Re)write a finished run's model card, ``RUN/README.md``."""
    from zoo.export.card import write_card
    from zoo.plugins import get_registry
    from zoo.rundir import RunDir

    run_dir = RunDir(Path(args.run))
    if not run_dir.finished:
        raise RunError(f"{run_dir.path} is not a finished run (no summary.json); a card describes a finished run")
    registry = get_registry()
    path = write_card(run_dir, run_dir.read_spec(registry), registry)
    out().print(f"wrote {safe(path)}", highlight=False)


def cmd_pack(args: argparse.Namespace) -> None:
    """One zip file of an export folder, or of a run (exported to ONNX on the way)."""
    from zoo.export.pack import pack
    from zoo.runtime.files import is_export_folder

    source = Path(args.source)
    target = Path(args.output or f"{source.resolve()}.zip")
    if target.exists() and not args.force:
        raise RunError(f"{target} already exists; pass --force to replace it, or choose another -o")
    if is_export_folder(source):
        pack(source, target)
    elif (source / "spec.yaml").exists():
        from zoo.export.folder import export

        with tempfile.TemporaryDirectory(prefix="zoo-export-") as scratch:
            export(source, Path(scratch) / "export", args.format, max_parameters=args.max_parameters, progress=_say)
            pack(Path(scratch) / "export", target)
    else:
        raise RunError(f"{source} is neither a run directory nor an export folder")
    out().print(f"packed {safe(source)} into {safe(target)} ({target.stat().st_size:,} bytes)", highlight=False)


def add_verbs(verb) -> None:
    """Add ``export``, ``card`` and ``pack`` to the CLI's parser."""
    from zoo.commands import _add_max_parameters

    sub = verb("export", cmd_export, "write a run's model for ONNX Runtime (or torch.export), checked against the run")
    sub.add_argument("run", help="a finished run directory")
    sub.add_argument("--format", choices=["onnx", "torch"], default="onnx",
                     help="onnx: model.onnx for ONNX Runtime (default); torch: a torch.export program, model.pt2")
    sub.add_argument("--out", metavar="DIR", help="the export folder (default: RUN-FORMAT next to the run)")
    sub.add_argument("--force", action="store_true", help="replace an export already at --out")
    _add_max_parameters(sub)
    sub.add_argument("--json", action="store_true", help="print export.json")

    sub = verb("card", cmd_card, "write a finished run's model card (RUN/README.md)")
    sub.add_argument("run", help="a finished run directory")

    sub = verb("pack", cmd_pack, "one zip file of an export folder (or of a run, exported on the way)")
    sub.add_argument("source", metavar="RUN_OR_EXPORT", help="an export folder, or a finished run to export first")
    sub.add_argument("-o", "--output", metavar="FILE", help="the zip file (default: SOURCE.zip next to it)")
    sub.add_argument("--format", choices=["onnx", "torch"], default="onnx", help="for a run: the export's format")
    sub.add_argument("--force", action="store_true", help="replace the zip file if it exists")
    _add_max_parameters(sub)
