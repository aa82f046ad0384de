#!/usr/bin/python3
"""Scores Zoll's detection rules on a labelled corpus.

    eval.py [--corpus FILE] [--zollctl PATH] [--rules DIR]
            [--thresholds FILE] [--json] [--show-errors]

Runs ONE `zollctl scan --rules DIR --json --lines` process, writes every
document's text to its stdin as one JSON string per line and reads back one
line per document: a JSON array of spans
[{"start", "end", "entity", "rule"}] with byte offsets into the UTF-8 text.

A prediction is a true positive when (start, end, entity) equals a gold span
exactly.  Prints precision, recall and F1 per entity type, the micro average,
and the predictions placed on documents that hold hard negatives only (no
gold entity).  Exit status: 0 all thresholds met, 1 some entity type below
its thresholds, 2 the evaluation could not run (missing zollctl, malformed
output, bad corpus).

--show-errors lists the first 10 false negatives and false positives of each
failing entity type; it is meant for the dev corpus and refuses the held-out
test corpus (tests/data/corpus.jsonl), whose texts must not guide tuning.
"""

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_CORPUS = ROOT / "tests/data/corpus.jsonl"
DEFAULTS = {"corpus": TEST_CORPUS, "zollctl": ROOT / "build/zollctl",
            "rules": ROOT / "rules",
            "thresholds": ROOT / "tests/eval/thresholds.json"}
SHOWN_ERRORS = 10


class EvalError(Exception):
    pass


def load_corpus(path):
    docs = []
    try:
        lines = Path(path).read_text(encoding="utf-8").split("\n")
    except OSError as e:
        raise EvalError(f"cannot read corpus {path}: {e.strerror}")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            size = len(d["text"].encode("utf-8"))
            for e in d["entities"]:
                if not (0 <= e["start"] < e["end"] <= size):
                    raise ValueError(f"span {e} out of bounds")
                str(e["entity"])
            d["id"]
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise EvalError(f"{path}:{n}: not a corpus record ({e})")
        docs.append(d)
    if not docs:
        raise EvalError(f"{path}: no documents")
    return docs


def load_thresholds(path):
    try:
        t = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise EvalError(f"cannot read thresholds {path}: {e.strerror}")
    except ValueError as e:
        raise EvalError(f"{path}: invalid JSON ({e})")
    if not isinstance(t, dict):
        raise EvalError(f"{path}: expected an object")
    t.pop("_comment", None)

    def rates_ok(v, keys):
        return (isinstance(v, dict) and set(v) == keys
                and all(isinstance(v[x], (int, float)) and 0 <= v[x] <= 1
                        for x in ("precision", "recall")))

    for k, v in t.items():
        if not (rates_ok(v, {"precision", "recall"})
                or (rates_ok(v, {"precision", "recall", "target"})
                    and rates_ok(v["target"], {"precision", "recall"}))):
            raise EvalError(f"{path}: {k}: expected {{\"precision\": p, "
                            f"\"recall\": r[, \"target\": {{...}}]}}")
    return t


def run_zollctl(zollctl, rules, docs, timeout):
    cmd = [str(zollctl), "scan", "--rules", str(rules), "--json", "--lines"]
    data = "".join(json.dumps(d["text"], ensure_ascii=False) + "\n"
                   for d in docs).encode("utf-8")
    try:
        p = subprocess.run(cmd, input=data, capture_output=True,
                           timeout=timeout)
    except FileNotFoundError:
        raise EvalError(f"{zollctl}: not found (build it with ./build.sh)")
    except PermissionError:
        raise EvalError(f"{zollctl}: not executable")
    except subprocess.TimeoutExpired:
        raise EvalError(f"{' '.join(cmd)}: no answer within {timeout} s")
    err = p.stderr.decode("utf-8", "replace").strip()
    if p.returncode != 0:
        raise EvalError(f"{' '.join(cmd)} exited with {p.returncode}"
                        + (f":\n{err}" if err else ""))
    out = p.stdout.split(b"\n")
    if out and out[-1] == b"":
        out.pop()
    if len(out) != len(docs):
        raise EvalError(f"zollctl answered {len(out)} lines for {len(docs)} "
                        "documents" + (f":\n{err}" if err else ""))
    preds = []
    for d, line in zip(docs, out):
        size = len(d["text"].encode("utf-8"))
        try:
            spans = json.loads(line.decode("utf-8"))
            if not isinstance(spans, list):
                raise ValueError("not an array")
            for s in spans:
                if not (isinstance(s, dict) and type(s.get("start")) is int
                        and type(s.get("end")) is int
                        and isinstance(s.get("entity"), str)):
                    raise ValueError(f"bad span {s!r}")
                if not 0 <= s["start"] < s["end"] <= size:
                    raise ValueError(f"span {s!r} outside the text "
                                     f"({size} bytes)")
        except (UnicodeDecodeError, ValueError) as e:
            raise EvalError(f"zollctl output for {d['id']}: {e}")
        preds.append(spans)
    return preds


def ratio(a, b, empty):
    return a / b if b else empty


def f1(p, r):
    return 2 * p * r / (p + r) if p + r else 0.0


def score(docs, preds, thresholds):
    """Counts, scores and the error lists per entity type."""
    n = defaultdict(lambda: {"gold": 0, "predicted": 0, "tp": 0})
    fns, fps = defaultdict(list), defaultdict(list)
    neg = {"documents": 0, "predictions": 0, "documents_with_predictions": 0}
    for d, spans in zip(docs, preds):
        gold = {(e["start"], e["end"], e["entity"]) for e in d["entities"]}
        for g in gold:
            n[g[2]]["gold"] += 1
        matched = set()
        for s in spans:
            key = (s["start"], s["end"], s["entity"])
            n[key[2]]["predicted"] += 1
            if key in gold and key not in matched:
                matched.add(key)
                n[key[2]]["tp"] += 1
            else:
                fps[key[2]].append((d, s))
        for g in sorted(gold - matched):
            fns[g[2]].append((d, {"start": g[0], "end": g[1],
                                  "entity": g[2]}))
        if not gold:
            neg["documents"] += 1
            neg["predictions"] += len(spans)
            neg["documents_with_predictions"] += bool(spans)

    def rates(c):
        p = ratio(c["tp"], c["predicted"], 1.0 if not c["gold"] else 0.0)
        r = ratio(c["tp"], c["gold"], 1.0)
        return dict(c, precision=p, recall=r, f1=f1(p, r))

    types = list(thresholds) + sorted(t for t in n if t not in thresholds)
    ents, failures, short = {}, [], []
    for t in types:
        e = rates(n[t])
        th = thresholds.get(t)
        # "target" is what the issue asks for; "precision"/"recall" are the
        # committed floor CI enforces, raised as the rules reach the target
        tg = (th or {}).get("target")
        if tg:
            gap = [f"{k} {e[k]:.3f} < {tg[k]:.2f}"
                   for k in ("precision", "recall") if e[k] < tg[k]]
            if gap:
                short.append(f"{t}: " + ", ".join(gap))
        if th:
            e["min_precision"], e["min_recall"] = th["precision"], \
                th["recall"]
            low = [f"{k} {e[k]:.3f} < {th[k]:.2f}"
                   for k in ("precision", "recall") if e[k] < th[k]]
            e["ok"] = not low
            if low:
                failures.append(f"{t}: " + ", ".join(low))
        ents[t] = e
    tot = {k: sum(n[t][k] for t in n) for k in ("gold", "predicted", "tp")}
    return {"documents": len(docs), "entities": ents, "micro": rates(tot),
            "negative_only": neg, "failures": failures,
            "below_target": short, "passed": not failures}, fns, fps


def table(res, corpus):
    out = [f"corpus {corpus}: {res['documents']} documents", "",
           f"{'entity':<22}{'gold':>6}{'pred':>6}{'TP':>6}{'prec':>8}"
           f"{'recall':>8}{'F1':>8}   min P/R"]
    for t, e in res["entities"].items():
        th = f"{e['min_precision']:.2f}/{e['min_recall']:.2f}" \
            if "ok" in e else "-"
        mark = "" if "ok" not in e else ("  ok" if e["ok"] else "  FAIL")
        out.append(f"{t:<22}{e['gold']:>6}{e['predicted']:>6}{e['tp']:>6}"
                   f"{e['precision']:>8.3f}{e['recall']:>8.3f}{e['f1']:>8.3f}"
                   f"   {th:<9}{mark}")
    m = res["micro"]
    out.append(f"{'micro':<22}{m['gold']:>6}{m['predicted']:>6}{m['tp']:>6}"
               f"{m['precision']:>8.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}")
    ng = res["negative_only"]
    out += ["", f"hard-negative-only documents: {ng['documents']}, "
            f"predictions on them: {ng['predictions']} "
            f"(in {ng['documents_with_predictions']} documents)"]
    if res["failures"]:
        out += ["", "below threshold:"] + [f"  {f}" for f in res["failures"]]
    else:
        out += ["", "all thresholds met"]
    if res["below_target"]:
        out += ["", "below target (not yet reached):"] \
            + [f"  {f}" for f in res["below_target"]]
    return "\n".join(out)


def excerpt(d, span, width=60):
    b = d["text"].encode("utf-8")
    s, e = span["start"], span["end"]
    lo, hi = max(0, s - width), min(len(b), e + width)

    def dec(x):
        return x.decode("utf-8", "replace").replace("\n", "⏎")
    return ("…" if lo else "") + dec(b[lo:s]) + "⟦" + dec(b[s:e]) + "⟧" + \
        dec(b[e:hi]) + ("…" if hi < len(b) else "")


def overlapping(spans, span):
    return [x for x in spans
            if x["start"] < span["end"] and span["start"] < x["end"]]


def describe(d, x):
    v = d["text"].encode("utf-8")[x["start"]:x["end"]].decode("utf-8",
                                                               "replace")
    rule = f" rule {x['rule']}" if x.get("rule") else ""
    return f"{x['entity']} {x['start']}-{x['end']} {v!r}{rule}"


def error_report(res, fns, fps, preds_by_id):
    out = []
    for f in res["failures"]:
        t = f.split(":")[0]
        out.append(f"== {t}")
        for label, items in (("false negatives", fns[t]),
                             ("false positives", fps[t])):
            out.append(f"-- {label}: {len(items)}"
                       + (f", first {SHOWN_ERRORS}"
                          if len(items) > SHOWN_ERRORS else ""))
            for d, x in items[:SHOWN_ERRORS]:
                out.append(f"{d['id']} {x['start']}-{x['end']}: "
                           f"{excerpt(d, x)}")
                if label == "false negatives":
                    near = overlapping(preds_by_id[d["id"]], x)
                    what = "predicted there"
                else:
                    near = overlapping(d["entities"], x)
                    what = "gold there"
                    if x.get("rule"):
                        out.append(f"    rule: {x['rule']}")
                for y in near:
                    out.append(f"    {what}: {describe(d, y)}")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Precision/recall of zollctl's detection rules on a "
        "labelled corpus.")
    ap.add_argument("--corpus", default=str(DEFAULTS["corpus"]))
    ap.add_argument("--zollctl", default=str(DEFAULTS["zollctl"]))
    ap.add_argument("--rules", default=str(DEFAULTS["rules"]))
    ap.add_argument("--thresholds", default=str(DEFAULTS["thresholds"]))
    ap.add_argument("--json", action="store_true",
                    help="print the scores as JSON")
    ap.add_argument("--show-errors", action="store_true",
                    help="list errors of failing entity types (dev corpus "
                    "only)")
    ap.add_argument("--timeout", type=float, default=600,
                    help="seconds to wait for zollctl (default 600)")
    a = ap.parse_args(argv)

    if a.show_errors and Path(a.corpus).resolve() == TEST_CORPUS.resolve():
        print("eval.py: --show-errors is for the dev corpus "
              "(tests/data/corpus_dev.jsonl); the test corpus is held out",
              file=sys.stderr)
        return 2
    try:
        docs = load_corpus(a.corpus)
        thresholds = load_thresholds(a.thresholds)
        preds = run_zollctl(a.zollctl, a.rules, docs, a.timeout)
    except EvalError as e:
        print(f"eval.py: {e}", file=sys.stderr)
        return 2
    res, fns, fps = score(docs, preds, thresholds)
    res["corpus"] = str(a.corpus)
    if a.json:
        print(json.dumps(res, indent=1, ensure_ascii=False))
    else:
        print(table(res, a.corpus))
    if a.show_errors and res["failures"]:
        by_id = {d["id"]: p for d, p in zip(docs, preds)}
        print("\n" + error_report(res, fns, fps, by_id),
              file=sys.stderr if a.json else sys.stdout)
    return 0 if res["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
