"""`ftlab slices` and `ftlab errors`: the slice report and the error analysis of a run's predictions, for the CLI
(and `ftlab robustness`: accuracy on clean vs attacked texts).

Both read one predictions table: the run's cached predictions on `--split`, or a labelled file (`--data`) scored
by the run. The commands return JSON-friendly dicts (NaN as None); `print_analysis` prints them for people, so the
JSON and the human output never disagree. Heavy libraries (torch, fairlearn) load inside the commands, not here:
`ftlab --help` must stay quick.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from ftlab.errors import UserError

METRIC_CHOICES = ("accuracy", "macro_f1", "selection_rate", "false_positive_rate", "false_negative_rate")
"""`ftlab.slices.METRICS` less count, spelled out so that building the parser does not import fairlearn (3 s)."""
SPLIT_VALUES = {"train", "training", "validation", "valid", "val", "dev", "test"}
"""A column holding only these values records which split a row came from (adult_text's source_split): it says
nothing about the people or texts, so the default report leaves it out (`--by` still takes it)."""
TEXT_CHARS = 80
"""Texts in the human output are cut to this many characters."""
DISCOVERY_SUPPORT = 20
"""Rows a discovered slice needs inside, and as many outside (`ftlab.slices.discover`'s default)."""
ATTACK_CHOICES = ("typo", "words", "synonyms")
"""`ftlab.robustness.ATTACKS`, spelled out so that building the parser does not import torch."""


# -- the predictions table ----------------------------------------------------------------------------------------

def predictions_table(args: argparse.Namespace) -> Any:
    """The run's predictions on --split (computed once, then cached) or on --data (scored each time)."""
    from ftlab.data import SPLITS
    from ftlab.evaluate import load_trained, predictions, predictions_path
    from ftlab.runs import read_state, require_classification

    read_state(args.run)  # an unknown run first
    require_classification(args.run, f"`ftlab {args.command}`")
    if args.data is None:
        given = [flag for flag, value in (("--text-col", args.text_col), ("--label-col", args.label_col)) if value]
        if given:
            what = "names a column" if len(given) == 1 else "name columns"
            raise UserError(f"{' and '.join(given)} {what} of a --data file; add --data FILE, or drop "
                            f"{'it' if len(given) == 1 else 'them'} to use the run's {args.split} split.")
        if args.split not in SPLITS:
            raise UserError(f"Unknown split '{args.split}'. Use one of: {', '.join(SPLITS)}. Example: --split test.")
        read_state(args.run)
        if not predictions_path(args.run, args.split).is_file():
            load_trained(args.run)  # "Run 'x' has no trained model yet (it is queued ...)" before scoring anything
        return predictions(args.run, args.split)[0]
    from ftlab.analysis import scored_table

    return scored_table(args.run, args.data, text_col=args.text_col or "text", label_col=args.label_col or "label")


def _source(args: argparse.Namespace, table: Any) -> dict[str, Any]:
    return {"run_id": args.run, "split": None if args.data else args.split,
            "data": str(Path(args.data).expanduser()) if args.data else None, "examples": len(table)}


# -- ftlab slices -------------------------------------------------------------------------------------------------

def cmd_slices(args: argparse.Namespace) -> dict[str, Any]:
    """One slice report (--by) or one per metadata column with 2-50 groups: the report's `to_dict()` and the source.

    With --by the result is one report; without, `reports` lists them, `by` names their columns, and `skipped`
    says why each other metadata column was left out.
    """
    from ftlab.slices import load_keyword_groups, slice_report

    by = _slice_spec(args)
    keywords = load_keyword_groups(args.keywords) if "keywords" in by else None  # a bad file fails before scoring
    table = predictions_table(args)
    labels = [str(c)[len("prob_"):] for c in table.columns if str(c).startswith("prob_")]
    if args.positive is not None and labels and args.positive not in labels:
        raise UserError(f"--positive {args.positive} is not one of the run's labels: {', '.join(labels)}. "
                        f"Example: --positive {labels[-1]}.")
    options = {"keywords": keywords, "metric": args.metric, "positive": args.positive, "n_boot": args.n_boot,
               "min_size": args.min_size}
    if by:
        return {**_source(args, table), **slice_report(table, by=by, **options).to_dict()}
    columns, skipped = default_columns(table)
    note = None
    if not columns:
        why = "; ".join(f"{column}: {reason}" for column, reason in skipped.items()) or "the table has none"
        note = (f"no metadata column has 2-50 groups ({why}), so the report is by text length; "
                "try --by keywords or --by confidence too")
    reports = [slice_report(table, by=column, **options).to_dict() for column in columns or ["length"]]
    return {**_source(args, table), "by": columns or ["length"], "skipped": skipped, "note": note,
            "reports": reports}


def _slice_spec(args: argparse.Namespace) -> list[str]:
    """The --by names after the checks that need no data (so that they fail before a minute of scoring)."""
    by = list(args.by or [])
    if args.keywords is not None and not by:
        by = ["keywords"]  # --keywords alone can only mean slicing by them
    elif args.keywords is not None and "keywords" not in by:
        raise UserError(f"--keywords gives the groups for --by keywords, but the slices are by {' & '.join(by)}. "
                        "Add --by keywords, or drop --keywords.")
    if args.n_boot < 0:
        raise UserError(f"--n-boot must be 0 or more resamples (0: no intervals), got {args.n_boot}. "
                        "Example: --n-boot 1000.")
    if args.min_size < 1:
        raise UserError(f"--min-size must be at least 1 example, got {args.min_size}. Example: --min-size 30.")
    return by


def default_columns(table: Any) -> tuple[list[str], dict[str, str]]:
    """The metadata columns worth a report of their own, and why each other one was left out.

    A column qualifies with 2 to `MAX_GROUPS` distinct values, or, when numeric, with 2 or more (the report cuts
    it into quantile bins); a split marker (`SPLIT_VALUES`) never does.
    """
    import pandas as pd

    from ftlab.slices.groups import MAX_GROUPS, metadata_columns

    chosen, skipped = [], {}
    for column in metadata_columns(table):
        values = table[column].dropna()
        distinct = values.nunique()
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if distinct < 2:
            skipped[column] = "every value is missing" if distinct == 0 else "one value"
        elif not numeric and distinct > MAX_GROUPS:
            skipped[column] = f"{distinct:,} values"
        elif set(values.astype(str).str.lower()) <= SPLIT_VALUES:
            skipped[column] = "the split a row came from"
        else:
            chosen.append(column)
    return chosen, skipped


# -- ftlab errors -------------------------------------------------------------------------------------------------

def cmd_errors(args: argparse.Namespace) -> dict[str, Any]:
    """Confusion matrix, per-class report, ECE, the --top most confident errors and the worst discovered slices."""
    if args.top < 1:
        raise UserError(f"--top must be a positive whole number, got {args.top}. Example: --top 10.")
    from ftlab.analysis import class_report, confident_errors, confusion, expected_calibration_error
    from ftlab.slices import discover

    table = predictions_table(args)
    matrix = confusion(table)
    report = class_report(table)
    wrong = confident_errors(table, n=args.top)
    result = {
        **_source(args, table), "accuracy": float(table["correct"].mean()),
        "confusion": {"labels": list(matrix.index), "matrix": matrix.to_numpy().astype(int).tolist()},
        "ece": _number(expected_calibration_error(table)),
        "class_report": {str(name): {k: _number(v) for k, v in row.items()} for name, row in report.iterrows()},
        "confident_errors": [{"example_id": _plain(row.get("example_id")), "text": str(row["text"]),
                              "gold": str(row["gold"]), "predicted": str(row["predicted"]),
                              "confidence": float(row["confidence"])} for _, row in wrong.iterrows()],
    }
    summary = {"tested": 0, "significant": 0, "alpha": None, "overall_error_rate": _number(1 - result["accuracy"]),
               "embeddings": False, "note": None}
    if len(table) < 2 * DISCOVERY_SUPPORT:
        note = f"slice discovery needs at least {2 * DISCOVERY_SUPPORT} examples; this table has {len(table)}"
        return {**result, "worst_slices": [], "discovery": {**summary, "note": note}}
    found = discover(table, embeddings=_embeddings(args, table) if args.embeddings else None,
                     min_support=DISCOVERY_SUPPORT)
    columns = ["kind", "description", "size", "errors", "error_rate", "rest_error_rate", "lift", "p_value", "q_value",
               "explained_by"]
    worst = [{"slice_id": str(slice_id), **{c: _plain(row[c]) for c in columns}}
             for slice_id, row in found.significant.head(args.top).iterrows()]
    summary |= {"tested": len(found.slices), "significant": len(found.significant), "alpha": found.alpha,
                "embeddings": bool(args.embeddings)}
    return {**result, "worst_slices": worst, "discovery": summary}


def _embeddings(args: argparse.Namespace, table: Any) -> Any:
    from ftlab.analysis import embed_texts, run_embeddings
    from ftlab.evaluate import load_trained

    if args.data is None:
        return run_embeddings(args.run, args.split).vectors
    model, tokenizer, config, _, _ = load_trained(args.run)
    return embed_texts(model, tokenizer, table["text"].astype(str).tolist(), max_length=config.max_length or 128,
                       batch_size=config.eval_batch_size)


def _number(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones, NaN as None: what json.dumps writes without help."""
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


# -- ftlab robustness ---------------------------------------------------------------------------------------------

def add_robustness_parser(sub: Any) -> None:
    command = sub.add_parser("robustness", help="accuracy on clean vs attacked texts (typos, word edits, synonyms)",
                             description="Score a classification run on a split's texts as they are and after a "
                                         "seeded attack (typos; dropped, duplicated or swapped words; synonyms): "
                                         "clean and attacked accuracy and the share of predictions that flip.")
    command.add_argument("run", metavar="RUN")
    command.add_argument("--attack", default="typo", choices=ATTACK_CHOICES,
                         help="typo: one character typo per edited word; words: drop, duplicate or swap; synonyms: "
                              "a Roget synonym (typo)")
    command.add_argument("--rate", type=float, default=0.15, metavar="R",
                         help="share of each text's words the attack edits, at least one (0.15)")
    command.add_argument("--seed", type=int, default=0, metavar="S", help="seeds the attack and --size's sample (0)")
    command.add_argument("--size", type=int, metavar="N", help="score a stratified sample of N texts (default: all)")
    command.add_argument("--split", default="test", help="train, validation or test (default: test)")
    command.add_argument("--json", action="store_true")


def cmd_robustness(args: argparse.Namespace) -> dict[str, Any]:
    from ftlab.robustness import robust_accuracy

    return robust_accuracy(args.run, args.split, attack=args.attack, rate=args.rate, seed=args.seed, size=args.size)


def _print_robustness(result: dict[str, Any]) -> None:
    print(f"run {result['run_id']}, {result['split']} split ({result['examples']:,} texts), attack "
          f"{result['attack']} at rate {result['rate']:g}, seed {result['seed']}")
    print(f"  clean accuracy     {result['clean_accuracy']:.3f}\n  attacked accuracy  {result['attacked_accuracy']:.3f}"
          f"  ({-result['accuracy_drop']:+.3f})\n  predictions flipped {result['flipped']:.1%} "
          f"(texts changed: {result['changed_texts']:.1%})")
    for sample in result["samples"]:
        print(f"  {sample['clean_prediction']} -> {sample['attacked_prediction']} (gold {sample['gold']}): "
              f"\"{_shorten(sample['attacked'])}\"")


# -- human output -------------------------------------------------------------------------------------------------

def print_analysis(command: str, result: dict[str, Any]) -> None:
    if command in ("errors", "robustness"):
        (_print_errors if command == "errors" else _print_robustness)(result)
        return
    reports = result.get("reports", [result])
    if result.get("note"):
        print(f"{_where(result)}\nnote: {result['note']}")
    elif "reports" in result:
        print(f"{_where(result)}: one report per metadata column with 2-50 groups: {', '.join(result['by'])}"
              + "".join(f"; skipped {column} ({reason})" for column, reason in result["skipped"].items()))
    else:
        print(_where(result))
    for report in reports:
        print()
        _print_report(report)


def _where(result: dict[str, Any]) -> str:
    source = f"{result['split']} split" if result.get("split") else result["data"]
    return f"run {result['run_id']}, {source} ({result['examples']:,} examples)"


_HEADERS = {"accuracy": "accuracy", "macro_f1": "macro F1", "selection_rate": "selection rate",
            "false_positive_rate": "FPR", "false_negative_rate": "FNR"}


def _print_report(report: dict[str, Any]) -> None:
    low, high = report["ci_quantiles"]
    level = f"{round((high - low) * 100)}% bootstrap intervals ({report['n_boot']:,} resamples)" \
        if report["n_boot"] else "no intervals (--n-boot 0)"
    print(f"slices by {report['by']} — positive label '{report['positive']}', {level}")
    rows = [{"slice": "(all)", "small": False, **report["overall"]}, *report["slices"]]
    names = [f"{row['slice']} *" if row["small"] else str(row["slice"]) for row in rows]
    width = max(len(name) for name in [*names, "slice"])
    cells = [[_interval(row[m]) for m in METRIC_CHOICES] for row in rows]
    widths = [max(len(_HEADERS[m]), *(len(texts[j]) for texts in cells)) for j, m in enumerate(METRIC_CHOICES)]
    header = "  ".join(f"{_HEADERS[m]:<{w}}" for m, w in zip(METRIC_CHOICES, widths))
    print(f"  {'slice':<{width}}  {'count':>6}  {header}".rstrip())
    for name, row, texts in zip(names, rows, cells):
        line = "  ".join(f"{text:<{w}}" for text, w in zip(texts, widths))
        print(f"  {name:<{width}}  {row['count']:>6,}  {line}".rstrip())
    if any(row["small"] for row in rows):
        print(f"  * fewer than {report['min_size']} examples: read its numbers, and the gaps below, with care")
    metric = report["metric"]
    difference, ratio = report["differences"][metric], report["ratios"][metric]
    for kind, values in (("difference", difference), ("ratio", ratio)):
        print(f"  {metric} {kind} between groups {_interval(values['between_groups'])}, "
              f"of a group to overall {_interval(values['to_overall'])}")
    if len(report["labels"]) == 2:
        fairness = report["fairness"]
        print(f"  demographic parity difference {_interval(fairness['demographic_parity_difference'])}, "
              f"equalised odds difference {_interval(fairness['equalized_odds_difference'])}")


def _interval(cell: dict[str, float | None]) -> str:
    """'0.842 [0.831, 0.853]'; a value without an interval stands alone, an undefined one is 'n/a'."""
    if cell["value"] is None:
        return "n/a"
    if cell["low"] is None or cell["high"] is None:
        return f"{cell['value']:.3f}"
    return f"{cell['value']:.3f} [{cell['low']:.3f}, {cell['high']:.3f}]"


def _print_errors(result: dict[str, Any]) -> None:
    ece = "n/a" if result["ece"] is None else f"{result['ece']:.3f}"
    print(f"{_where(result)}: accuracy {result['accuracy']:.3f}, expected calibration error {ece}")
    labels, matrix = result["confusion"]["labels"], result["confusion"]["matrix"]
    corner = "gold \\ predicted"
    width = max(len(corner), *(len(label) for label in labels))
    cell = max(7, *(len(label) for label in labels), *(len(f"{n:,}") for row in matrix for n in row))
    print("\nconfusion matrix (rows: gold, columns: predicted)")
    print(f"  {corner:<{width}}" + "".join(f"  {label:>{cell}}" for label in labels))
    for label, row in zip(labels, matrix):
        print(f"  {label:<{width}}" + "".join(f"  {n:>{cell},}" for n in row))
    print("\nper class")
    width = max(len(name) for name in result["class_report"])
    print(f"  {'':<{width}}  precision  recall  f1-score  support")
    for name, row in result["class_report"].items():
        numbers = [f"{row[k]:.3f}" if row[k] is not None else "" for k in ("precision", "recall", "f1-score")]
        print(f"  {name:<{width}}  {numbers[0]:>9}  {numbers[1]:>6}  {numbers[2]:>8}  {int(row['support']):>7,}")
    errors = result["confident_errors"]
    print(f"\n{len(errors)} most confident errors" if errors else "\nno errors: every prediction is right")
    for error in errors:
        print(f"  {error['confidence']:.3f}  gold {error['gold']}, predicted {error['predicted']}: "
              f"\"{_shorten(error['text'])}\"")
    _print_discovery(result)


def _print_discovery(result: dict[str, Any]) -> None:
    discovery, worst = result["discovery"], result["worst_slices"]
    if discovery["note"]:
        print(f"\nworst slices: none searched ({discovery['note']})")
        return
    searched = "words, phrases, metadata" + (", embedding clusters" if discovery["embeddings"] else "")
    print(f"\nworst slices ({searched}; {discovery['tested']:,} tested against the rest with Fisher's exact test, "
          f"Benjamini-Hochberg q <= {discovery['alpha']:g}; overall error rate {discovery['overall_error_rate']:.3f})")
    if not worst:
        print("  none is significantly worse than the rest")
    for found in worst:
        within = f"  (no worse than {found['explained_by']})" if found["explained_by"] else ""
        print(f"  {found['description']}: {found['errors']:,} of {found['size']:,} wrong, error rate "
              f"{found['error_rate']:.3f} vs {found['rest_error_rate']:.3f} elsewhere, "
              f"q {found['q_value']:.2g}{within}")
    if discovery["significant"] > len(worst):
        print(f"  ... and {discovery['significant'] - len(worst)} more (raise --top to list them)")


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS - 1].rstrip() + "…"
