"""Verdicts and Markdown of the scale part (bench/scale.py): millions of events, plain Spark, DuckDB.

Definitions (also written into BENCHMARKS.md):
* data steps = ingest of the events, ingest of the other sources, refine, features, kpis; their cost is
  the sum of their job seconds (session start excluded, as everywhere in the bench);
* ingestion ratio = baseline job seconds / `ingest --source events` job seconds on the same files
  (= ingest's events/s over the baseline's);
* growth vs linear = (data steps' cost at the largest size / at the smallest) / (event lines at the
  largest / at the smallest);
* kpis vs DuckDB = the kpis job's seconds / DuckDB's seconds for kpi_daily on the same silver files
  (the kpis job also writes four more gold tables: stated beside the ratio).
"""

from __future__ import annotations

from bench.markdown import (
    BREAKDOWN_HEADERS,
    MB,
    breakdown_rows,
    eventlog_of,
    fmt,
    gib_b,
    gib_kib,
    operations_table,
    table,
    verdict,
)


def _secs(ref: dict | None, key: str = "job_seconds") -> float | None:
    return ref.get(key) if ref and ref.get("ok") else None


def _data_cost(size: dict, names: list[str], key: str = "job_seconds") -> float | None:
    """Sum over every data step; None when one is missing or failed."""
    total = 0.0
    for name in names:
        value = _secs(size["steps"].get(name), key)
        if value is None:
            return None
        total += value
    return total


def _lines(results: dict, size: dict) -> int | None:
    return (results["datasets"].get(size["dataset"]) or {}).get("events", {}).get("lines")


def evaluate_scale(results: dict) -> dict | None:
    sc = results.get("scale")
    if not sc or not sc.get("sizes"):
        return None
    targets = results.get("targets", {})
    sizes = sorted(sc["sizes"].items(), key=lambda kv: kv[1]["events_requested"])
    per = {}
    for label, size in sizes:
        lines = _lines(results, size)
        ingest, base = _secs(size["steps"].get("ingest events")), _secs(size.get("baseline"))
        kpis, duck = _secs(size["steps"].get("kpis")), _secs(size.get("duckdb"), "seconds")
        per[label] = {
            "lines": lines,
            "data_seconds": _data_cost(size, sc["steps"]),
            "data_cpu_seconds": _data_cost(size, sc["steps"], "jvm_cpu_seconds"),
            "ingest_ratio": base / ingest if ingest and base else None,
            "ingest_events_per_s": lines / ingest if lines and ingest else None,
            "baseline_events_per_s": lines / base if lines and base else None,
            "kpis_vs_duckdb": kpis / duck if kpis and duck else None,
        }
    complete = {label: (size.get("reconciliation") or {}).get("ok") for label, size in sizes}
    small, large = sizes[0][0], sizes[-1][0]
    growth = None
    s, lg = per[small], per[large]
    if small != large and s["data_seconds"] and lg["data_seconds"] and s["lines"] and lg["lines"]:
        growth = (lg["data_seconds"] / s["data_seconds"]) / (lg["lines"] / s["lines"])
    ratio, duck = per[large]["ingest_ratio"], per[large]["kpis_vs_duckdb"]
    procs = [p for p in results.get("processes", []) if p.get("scenario") == "scale"]
    rss = max(procs, key=lambda p: p.get("jvm_peak_rss_kib") or 0, default={})
    heap = max(procs, key=lambda p: p.get("jvm_heap_peak_bytes") or 0, default={})
    read_all = None if None in complete.values() else all(complete.values())
    return {
        "sizes": per,
        "complete": complete,
        "read_all": read_all,
        "largest": large,
        "smallest": small,
        "ingest_ratio": ratio,
        "ingest_target": targets.get("ingest_ratio_min", 0.7),
        "ingest_pass": None if ratio is None else ratio >= targets.get("ingest_ratio_min", 0.7),
        "growth": growth,
        "growth_target": targets.get("growth_max", 1.1),
        # Figures of steps that did not read the whole dataset judge nothing: no verdict then.
        "growth_pass": None
        if growth is None or read_all is False
        else growth <= targets.get("growth_max", 1.1),
        "kpis_vs_duckdb": duck,
        "duckdb_target": targets.get("kpis_vs_duckdb_max", 3.0),
        "duckdb_pass": None if duck is None else duck <= targets.get("kpis_vs_duckdb_max", 3.0),
        "max_rss_kib": rss.get("jvm_peak_rss_kib"),
        "max_rss_at": rss.get("label"),
        "max_heap_bytes": heap.get("jvm_heap_peak_bytes"),
        "max_heap_at": heap.get("label"),
        "driver_memory": rss.get("driver_memory"),
    }


def target_rows(s: dict | None) -> list[list]:
    """The scale part's rows of the Targets table."""
    if not s:
        return [["Scale (millions of events)", "", "not run", "–", ""]]
    lg = s["largest"]
    return [
        [
            "Every landed record read by ingest, at every size (read = loaded + quarantined + duplicates)",
            "all",
            "yes" if s.get("read_all") else ("not checked" if s.get("read_all") is None else "no: see Scale"),
            verdict(s.get("read_all")),
            "",
        ],
        [
            f"Bronze ingest of events at {lg} vs plain Spark (JSON -> Parquet)",
            f">= {s['ingest_target']} x",
            fmt(s["ingest_ratio"], 2, " x"),
            verdict(s["ingest_pass"]),
            "",
        ],
        [
            f"Data steps at {lg} vs {s['smallest']}, against linear in events",
            f"<= {s['growth_target']} x",
            fmt(s["growth"], 2, " x"),
            verdict(s["growth_pass"]),
            "",
        ],
        [
            f"kpis job at {lg} vs DuckDB computing kpi_daily from the same silver files",
            f"<= {s['duckdb_target']} x",
            fmt(s["kpis_vs_duckdb"], 2, " x"),
            verdict(s["duckdb_pass"]),
            "",
        ],
        [
            f"Peak memory of the scale processes (driver memory {s.get('driver_memory')})",
            "(reported)",
            f"JVM RSS {gib_kib(s['max_rss_kib'])}, heap {gib_b(s['max_heap_bytes'])}",
            "–",
            "",
        ],
    ]


def headline_lines(s: dict | None) -> list[str]:
    if not s:
        return []
    return [
        f"scale {s['largest']}: ingest {fmt(s['ingest_ratio'], 2)} x plain Spark (>= {s['ingest_target']}), "
        f"growth {fmt(s['growth'], 2)} x linear (<= {s['growth_target']}), kpis {fmt(s['kpis_vs_duckdb'], 2)} x "
        f"DuckDB (<= {s['duckdb_target']}), peak JVM RSS {gib_kib(s['max_rss_kib'])}"
    ]


def render_scale(w, results: dict, s: dict | None) -> None:
    w("## Scale: millions of events")
    w("")
    sc = results.get("scale")
    if not sc or not s:
        w("_Not run._")
        w("")
        return
    w(
        f"Each dataset is `generate --events N` over {sc['days']} days (all sources: events, access and "
        "application logs, billing, customers, prices, weather; bad records, duplicates, late events and "
        "one truncated file planted as in every sample). Each step runs in its own fresh process on one "
        "lake; *ingest events* is `ingest --source events`, *ingest other sources* the plain `ingest` "
        "that follows it. **Baseline**: `bench/baseline_parquet.py`, plain Spark reading the same events "
        "files with the declared schema and writing Parquet partitioned by day. **DuckDB**: "
        "`bench/duckdb_kpis.py` computing every kpi_daily column from the silver tables' live Parquet "
        "files, in a fresh process."
    )
    w("")
    _sizes_table(w, results, sc, s)
    _reconciliation(w, sc, s)
    _where_time_goes(w, results, sc, s)


def _reconciliation(w, sc: dict, s: dict) -> None:
    labels = list(s["sizes"])
    recs = {lb: sc["sizes"][lb].get("reconciliation") for lb in labels}
    w("### Did ingest read the whole dataset?")
    w("")
    if not any(recs.values()):
        w("_Not checked in this run (no reconciliation recorded)._")
        w("")
        return
    sources = sorted({name for r in recs.values() if r for name in r["sources"]})
    rows = []
    for name in sources:
        row = [name]
        for lb in labels:
            x = (recs[lb] or {}).get("sources", {}).get(name)
            row.append(
                "–"
                if x is None
                else f"{fmt(x['read'])} of {fmt(x['landed'])}" + ("" if x["ok"] else " **MISSING**")
            )
        rows.append(row)
    w(table(["records read of landed (ingest audit vs manifest)", *labels], rows))
    w("")
    if s.get("read_all") is False:
        w(
            "**Not every landed record was read**, so the data steps' figures at the sizes marked above cover "
            "part of the dataset only: the linearity verdict is withheld, and refine, features and kpis "
            "processed less than the sizes say."
        )
        w("")


def _sizes_table(w, results: dict, sc: dict, s: dict) -> None:
    labels = list(s["sizes"])
    rows = []
    ds = {lb: results["datasets"].get(sc["sizes"][lb]["dataset"], {}) for lb in labels}
    rows.append(["event lines"] + [fmt(s["sizes"][lb]["lines"]) for lb in labels])
    rows.append(["customers"] + [fmt(ds[lb].get("customers")) for lb in labels])
    rows.append(
        ["records, all sources"] + [fmt(sum((ds[lb].get("records") or {}).values()) or None) for lb in labels]
    )
    rows.append(["landing GB"] + [fmt((ds[lb].get("landing_bytes") or 0) / 1e9, 2) for lb in labels])
    rows.append(["generate s (not a product step)"] + [fmt(ds[lb].get("generate_seconds")) for lb in labels])
    for name in sc["steps"]:
        rows.append(
            [f"{name} s"] + [fmt(_secs(sc["sizes"][lb]["steps"].get(name))) or "failed" for lb in labels]
        )
    rows.append(["**data steps s**"] + [f"**{fmt(s['sizes'][lb]['data_seconds'])}**" for lb in labels])
    rows.append(["data steps, JVM CPU s"] + [fmt(s["sizes"][lb]["data_cpu_seconds"]) for lb in labels])
    rows.append(["baseline s"] + [fmt(_secs(sc["sizes"][lb].get("baseline"))) for lb in labels])
    rows.append(
        ["ingest events, events/s"] + [fmt(s["sizes"][lb]["ingest_events_per_s"], 0) for lb in labels]
    )
    rows.append(["baseline, events/s"] + [fmt(s["sizes"][lb]["baseline_events_per_s"], 0) for lb in labels])
    rows.append(["ingest / baseline"] + [fmt(s["sizes"][lb]["ingest_ratio"], 2, " x") for lb in labels])
    rows.append(
        ["DuckDB kpi_daily s"] + [fmt(_secs(sc["sizes"][lb].get("duckdb"), "seconds")) for lb in labels]
    )
    rows.append(["kpis / DuckDB"] + [fmt(s["sizes"][lb]["kpis_vs_duckdb"], 2, " x") for lb in labels])
    for name in sc["steps"]:
        rows.append(
            [f"{name}: JVM peak RSS"]
            + [gib_kib((sc["sizes"][lb]["steps"].get(name) or {}).get("jvm_peak_rss_kib")) for lb in labels]
        )
    w(table(["", *labels], rows))
    w("")
    w(
        f"Ingest of the events at {s['largest']}: **{fmt(s['ingest_ratio'], 2, ' x')}** the baseline's "
        f"throughput (target >= {s['ingest_target']}): {verdict(s['ingest_pass'])}. Data steps at "
        f"{s['largest']} against {s['smallest']}: **{fmt(s['growth'], 2, ' x')}** linear (target <= "
        f"{s['growth_target']}): {verdict(s['growth_pass'])}. kpis at {s['largest']}: "
        f"**{fmt(s['kpis_vs_duckdb'], 2, ' x')}** DuckDB's time (target <= {s['duckdb_target']}): "
        f"{verdict(s['duckdb_pass'])}; the kpis job writes five gold tables (kpi_daily, retention_cohorts, "
        "market_signals, promo_response, cost_kpis_daily) with Delta commits, DuckDB computes kpi_daily "
        "alone into memory."
    )
    w("")


def _where_time_goes(w, results: dict, sc: dict, s: dict) -> None:
    lg = s["largest"]
    size = sc["sizes"][lg]
    w(f"### Where the time goes at {lg}")
    w("")
    pairs = [(f"{name}", ref, eventlog_of(results, ref)) for name, ref in size["steps"].items()]
    if size.get("baseline"):
        pairs.append(("baseline", size["baseline"], eventlog_of(results, size["baseline"])))
    w(table(BREAKDOWN_HEADERS, breakdown_rows(pairs)))
    w("")
    for name in ("ingest events", "kpis"):
        ref = size["steps"].get(name)
        if not ref:
            continue
        el = eventlog_of(results, ref)
        w(f"{name} at {lg}, operations:")
        w("")
        w(operations_table(el))
        w("")
    shuffle = sum((eventlog_of(results, r).get("shuffle_write_bytes") or 0) for r in size["steps"].values())
    w(f"Shuffle written by the data steps at {lg}: {fmt(shuffle / MB, 0)} MB.")
    w("")
