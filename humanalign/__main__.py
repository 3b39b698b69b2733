"""``python -m humanalign`` (console script ``humanalign``): list what the suite has registered.

Examples:
    python -m humanalign list models            # every model with family, architecture and source
    python -m humanalign list models --family vjepa
    python -m humanalign list stimuli
    python -m humanalign list layers timm:resnet50   # a model's layer names (for --layers) and input contract
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from humanalign.cli import add_verbose_arg, run_cli
from humanalign.registry import CORRUPTIONS, METRICS, MODELS, PRETRAIN_METHODS, STIMULUS_SETS, Registry

__all__ = ["main", "model_table", "print_layers"]

logger = logging.getLogger(__name__)

_REGISTRIES: dict[str, Registry] = {
    "models": MODELS,
    "stimuli": STIMULUS_SETS,
    "corruptions": CORRUPTIONS,
    "metrics": METRICS,
    "pretrain-methods": PRETRAIN_METHODS,
}


def model_table(family: str | None = None) -> list[dict[str, str]]:
    """One row per registered model: name, family, modality, architecture, source, download address."""
    rows = []
    for name in MODELS.list():
        meta = MODELS.meta(name)
        if family and meta.get("family") != family:
            continue
        url = meta.get("url")
        rows.append({
            "name": name,
            "family": str(meta.get("family", "")),
            "modality": str(meta.get("modality", "")),
            "architecture": str(meta.get("architecture", "")),
            "source": str(meta.get("source", "")),
            "download": str(url) if url else ("by hand (see source)" if "filename" in meta else "-"),
        })
    return rows


def _print_rows(rows: list[dict[str, str]], columns: Sequence[str]) -> None:
    widths = {c: max([len(c)] + [len(r[c]) for r in rows]) for c in columns[:-1]}
    print("  ".join(c.ljust(widths[c]) for c in columns[:-1]) + "  " + columns[-1])
    for row in rows:
        print("  ".join(row[c].ljust(widths[c]) for c in columns[:-1]) + "  " + row[columns[-1]])


def print_layers(spec: str) -> int:
    """Print a model's nameable layers (``--layers`` names) and its input contract."""
    from humanalign.models.observers import load_observer

    observer = load_observer(spec)
    c = observer.contract
    frames = f" x {c.frames} frames" if c.is_video else ""
    print(f"# {observer.id}: {type(observer.module).__name__}, {len(observer.blocks)} blocks, weights "
          f"{observer.weights_hash[:12]}")
    print(f"# contract: {c.kind} {c.size}px{frames}, mean {'/'.join(f'{v:g}' for v in c.mean)}, "
          f"std {'/'.join(f'{v:g}' for v in c.std)}, crop {c.crop_fraction:g}, {c.interpolation} ({c.source})")
    print("# select with --layers final|all|blocks|NAME,NAME|glob (block<i> names the repeated blocks)")
    _print_rows(observer.layer_table(), ["layer", "module", "type"])
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m humanalign`` and the ``humanalign`` console script."""
    parser = argparse.ArgumentParser(prog="humanalign", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="list registered names")
    listing.add_argument("what", choices=sorted([*_REGISTRIES, "layers"]),
                         help="which registry, or `layers SPEC`: a model's layers and input contract")
    listing.add_argument("spec", nargs="?", default=None, help="layers only: the model spec (timm:resnet50, ...)")
    listing.add_argument("--family", default=None, help="models only: keep one family (hvm1, vjepa, ...)")
    add_verbose_arg(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return run_cli(lambda: _list(args), verbose=args.verbose)


def _list(args: argparse.Namespace) -> int:
    """Print one registry (``list WHAT``), or a model's layers (``list layers SPEC``)."""
    if args.what == "layers":
        if not args.spec:
            raise ValueError("list layers needs a model spec, e.g. `python -m humanalign list layers timm:resnet50`")
        return print_layers(args.spec)
    if args.spec:
        raise ValueError(f"list {args.what} takes no model spec (only `list layers SPEC` does)")
    if args.what == "models":
        rows = model_table(args.family)
        if not rows:
            families = sorted({str(MODELS.meta(n).get("family", "")) for n in MODELS.list()} - {""})
            raise KeyError(f"no models of family {args.family!r} (known families: {', '.join(families)})")
        _print_rows(rows, ["name", "family", "modality", "architecture", "download", "source"])
        return 0
    registry = _REGISTRIES[args.what]
    for name in registry.list():
        meta = registry.meta(name)
        source = meta.get("source") or meta.get("url") or ""
        print(f"{name}  {source}".rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
