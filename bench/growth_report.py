"""Markdown of the growth part (on request, small data): the data steps at several multiples of the
customers, against linear growth, and which operations grew fastest."""

from __future__ import annotations

from bench.markdown import (
    BREAKDOWN_HEADERS,
    breakdown_rows,
    cost,
    driver_share,
    eventlog_of,
    fmt,
    table,
    top_ops_sentence,
    verdict,
)


def render_growth(w, results: dict, s: dict) -> None:
    w("## 2. Pipeline at several sizes")
    w("")
    gr, g = results.get("growth"), s.get("growth")
    if not gr or not g:
        w("_Not run._")
        w("")
        return
    sizes = g["sizes"]
    w(
        "Each size is generated with the same seed and days and `customers = 1x customers x size` (events "
        "scale with customers); each step runs in its own process on a fresh lake, in pipeline order. "
        "The growth target applies to the data steps (ingest, refine, features, kpis); the model steps, "
        "when timed (`--models`), are listed apart: their cost is set mostly by the search budget "
        "(models.max_evals), not by the data."
    )
    w("")
    headers = ["step"] + [f"x{k} job s" for k in sizes] + ["startup s (x1)", "largest vs linear"]
    w(table(headers, _size_rows(results, gr, g)))
    w("")
    vs = ", ".join(f"x{k}: {v:.2f}" for k, v in g["vs_linear"].items())
    w(
        f"Cost relative to linear growth from x{sizes[0]} (1.00 = linear, below = fixed costs amortised): {vs}. "
        f"A least-squares line through the sizes gives {fmt(g['fixed_seconds'])} s fixed + "
        f"{fmt(g['seconds_per_size_unit'])} s per size unit"
        + (
            " (negative: run-to-run noise exceeds the cost of the extra data)"
            if (g["seconds_per_size_unit"] or 0) < 0
            else ""
        )
        + f"; marginal growth {fmt(g['marginal'], 2, ' x')} "
        "(cost added per size unit between the two largest sizes / between the two smallest; 1.00 = the "
        f"variable part grows linearly). Target (largest vs linear <= {g['target']}): {verdict(g['pass'])}."
    )
    w("")
    _render_where_time_goes(w, results, gr, g)


def _size_rows(results: dict, gr: dict, g: dict) -> list[list]:
    sizes = g["sizes"]
    rows = []
    for step in gr["steps"]:
        row = [step]
        for k in sizes:
            ref = gr["sizes"][str(k)]["steps"].get(step)
            row.append(fmt(ref["job_seconds"]) if ref and ref.get("ok") else ("failed" if ref else "–"))
        first = gr["sizes"][str(sizes[0])]["steps"].get(step) or {}
        row.append(fmt(first.get("startup_seconds")))
        row.append(fmt(g["per_step_vs_linear"].get(step), 2, " x"))
        rows.append(row)
    total = ["**data steps**"] + [f"**{fmt(g['costs'].get(str(k)))}**" for k in sizes] + ["", ""]
    total[-1] = f"**{fmt(g['worst_vs_linear'], 2, ' x')}**"
    rows.append(total)
    cpu = ["data steps, JVM CPU s"] + [
        fmt(cost(gr["sizes"][str(k)]["steps"], key="jvm_cpu_seconds")) for k in sizes
    ] + ["", fmt(g.get("worst_vs_linear_cpu"), 2, " x")]  # fmt: skip
    rows.append(cpu)
    events = ["events (lines)"] + [
        fmt(results["datasets"].get(f"x{k}", {}).get("events", {}).get("lines")) for k in sizes
    ] + ["", ""]  # fmt: skip
    rows.append(events)
    return rows


def _render_where_time_goes(w, results: dict, gr: dict, g: dict) -> None:
    sizes = g["sizes"]
    w("### Where the time goes" + (" (target missed)" if g.get("pass") is False else ""))
    w("")
    pairs = []
    for step in gr["steps"]:
        for k in (sizes[0], sizes[-1]):
            ref = gr["sizes"][str(k)]["steps"].get(step)
            if ref:
                pairs.append((f"{step} x{k}", ref, eventlog_of(results, ref)))
    w(table(BREAKDOWN_HEADERS, breakdown_rows(pairs)))
    w("")
    grown = _grown_operations(results, gr, sizes)
    if not grown and sizes[0] != sizes[-1]:
        w(f"No operation took longer at x{sizes[-1]} than at x{sizes[0]} in this run.")
        w("")
    if grown:
        w(
            f"Operations whose wall time grew most from x{sizes[0]} to x{sizes[-1]} "
            f"(linear would be x{sizes[-1] / sizes[0]:.0f}):"
        )
        w("")
        w(table(["step", "operation", f"x{sizes[0]} s", f"x{sizes[-1]} s", "growth"], grown, "llrrr"))
        w("")
    if g.get("pass") is False:
        worst = max(g["per_step_vs_linear"].items(), key=lambda kv: kv[1], default=(None, None))
        if worst[0]:
            ref = gr["sizes"][str(sizes[-1])]["steps"].get(worst[0]) or {}
            el = eventlog_of(results, ref)
            w(
                f"The step growing fastest is **{worst[0]}** ({worst[1]:.2f} x linear); at x{sizes[-1]} "
                f"{driver_share(ref, el)}; its costliest operations: {top_ops_sentence(el)}."
            )
            w("")


def _grown_operations(results: dict, gr: dict, sizes: list[int], limit: int = 8) -> list[list]:
    """Operations present at both the smallest and the largest size, by added wall time: where growth
    beyond linear comes from. Those under half a second at the smallest size are noise and left out."""
    lo, hi = sizes[0], sizes[-1]
    if lo == hi:
        return []
    rows = []
    for step in gr["steps"]:
        a = eventlog_of(results, gr["sizes"][str(lo)]["steps"].get(step))
        b = eventlog_of(results, gr["sizes"][str(hi)]["steps"].get(step))
        small = {o["label"]: o for o in a.get("operations") or []}
        for o in b.get("operations") or []:
            before = small.get(o["label"])
            if before and before["wall_s"] > 0.5 and o["wall_s"] > before["wall_s"]:
                rows.append((o["wall_s"] - before["wall_s"], step, o["label"], before["wall_s"], o["wall_s"]))
    rows.sort(reverse=True)
    return [
        [step, label, fmt(x), fmt(y), fmt(y / x if x else None, 2, " x")]
        for _d, step, label, x, y in rows[:limit]
    ]
