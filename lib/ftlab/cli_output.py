"""Human-readable output of the `ftlab` commands (JSON mode prints the same results as they are)."""

from __future__ import annotations

import json
from typing import Any


def print_human(command: str, result: Any) -> None:
    if command in ("train", "evaluate"):
        main = result["main_metric"]
        print(f"run {result['run_id']}: {result['status']}  {main['split'] or ''} {main['name']}="
              f"{_fmt(main['value'])}  trainable {result['param_counts']['trainable']:,} / "
              f"{result['param_counts']['total']:,} params  {_fmt(result['wall_seconds'])} s")
        if result.get("error"):
            print(f"  error: {result['error']}")
        if result.get("classification_report"):
            print(result["classification_report"])
    elif command == "runs":
        if not result:
            print("no runs yet: start one with `ftlab train`")
        for r in result:
            print(f"{r['run_id']:<45} {r['status']:<10} {r['method'] or '':<8} {r['dataset'] or '':<16} "
                  f"{r['main_metric']['name']}={_fmt(r['main_metric']['value'])}"
                  + (f"  from {r['parent']}" if r.get("parent") else ""))
    elif command == "jobs":
        state = "alive" if result["worker_alive"] else "idle (starts with the next job)"
        print(f"concurrency {result['concurrency']}, worker {state}")
        for job in result["jobs"] or []:
            where = f"pid {job['pid']}" if job["status"] == "running" else f"#{job['position']} in line"
            print(f"  {job['run_id']:<45} {job['status']:<8} {where}")
        if not result["jobs"]:
            print("  no jobs: submit one with `ftlab train --queue ...` or from the workbench's Train page")
    elif command in ("cancel", "delete"):
        print(f"run {result['run_id']}: {result['status']}")
    elif command == "explain":
        _print_explanation(result)
    elif command in ("slices", "errors", "robustness"):
        from ftlab.cli_analysis import print_analysis

        print_analysis(command, result)
    elif command == "cost":
        from ftlab.cli_cost import print_cost

        print_cost(result)
    elif command == "fewshot":
        from ftlab.cli_fewshot import print_fewshot

        print_fewshot(result)
    elif command == "compress":
        from ftlab.cli_compress import print_compress

        print_compress(result)
    elif command == "generate":
        from ftlab.cli_generate import print_generate

        print_generate(result)
    elif command in ("serve", "export"):
        from ftlab.cli_serve import print_serve

        print_serve(command, result)
    elif command == "predict":
        for item in result.get("predictions", [result]):
            _print_prediction(item)
    elif isinstance(result, list):
        for item in result:
            print("  ".join(f"{v}" for v in item.values()))
    else:
        print(json.dumps(result, indent=2))


def _print_prediction(item: dict[str, Any]) -> None:
    """A label with its probabilities; a multi-task run's answer per task; an NER run's entities; an sft run's
    generated answer."""
    if "response" in item:
        print(item["response"])
        return
    if "entities" in item:
        found = [f"{e['text']} ({e['type']}, {e['start']}-{e['end']}, {e['score']:.3f})" for e in item["entities"]]
        print("; ".join(found) or "no entities")
        return
    for task, answer in (item["tasks"].items() if "tasks" in item else [(None, item)]):
        probs = ", ".join(f"{k} {v:.3f}" for k, v in answer["probabilities"].items())
        print(f"{task + ': ' if task else ''}{answer['label']}  ({probs})")


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _print_explanation(result: dict[str, Any]) -> None:
    if "entity" in result:  # an NER run's entity
        entity = result["entity"]
        ranked = sorted(zip(result["words"], result["attributions"]), key=lambda pair: -pair[1])[:5]
        print(f"{entity['text']} ({entity['type']}, {entity['score']:.3f}) at {entity['start']}-{entity['end']}; "
              f"entities found: {', '.join(e['text'] for e in result['entities'])}")
        print("  ig   " + "  ".join(f"{word} {score:+.3f}" for word, score in ranked) + f"  delta {result['delta']:.1e}")
        return
    probs = ", ".join(f"{k} {v:.3f}" for k, v in result["prediction"]["probabilities"].items())
    print(f"{result['prediction']['label']}  ({probs})  explaining: {result['target']}"
          + ("  [text truncated to the model's max length]" if result.get("truncated") else ""))
    for method, scores in result["attributions"].items():
        ranked = sorted(zip(result["words"], scores), key=lambda pair: -pair[1])[:5]
        extra = {"shap": f"  base {result['base_value'].get('shap', 0):.3f}",
                 "ig": f"  delta {result.get('ig_delta') or 0:.1e}"}.get(method, "")
        precision = result.get("precision", {}).get(method, "fp32")
        extra += f"  ({precision} copy)" if precision != "fp32" else ""
        print(f"  {method:<5}" + "  ".join(f"{word} {score:+.3f}" for word, score in ranked) + extra)
    trust = result.get("trust") or {}
    if trust.get("faithfulness"):
        k, scores = trust["k"], trust["faithfulness"]
        chance = next(iter(scores.values()))["random_comprehensiveness"]
        print(f"  trust: comprehensiveness of the top {k} words (random {k}: {chance:+.3f}): "
              + ", ".join(f"{m} {f['comprehensiveness']:+.3f}" for m, f in scores.items()))
    if trust.get("agreement"):
        print("  agreement (Spearman): " + ", ".join(f"{pair} {a['spearman']:+.2f}"
                                                     for pair, a in trust["agreement"].items()))
