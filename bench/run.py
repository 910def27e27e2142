"""The benchmark command: measures lakepulse on this machine in one run and writes BENCHMARKS.md.

    make bench                       # = .venv/bin/python -m bench (parts scale and incremental)
    .venv/bin/python -m bench --only scale --events 200000,1000000     # a shorter scale run
    .venv/bin/python -m bench --only throughput,growth --customers 300 --days 28 --sizes 1,2,4

What it measures (each measured job runs in a fresh Python + JVM process, `bench/job.py`, with a Spark
event log; nothing is timed inside the test suite):

* scale (bench/scale.py, default): the data steps (ingest, refine, features, kpis) at each `--events`
  size (default 1M and 10M events), the events' ingestion against plain Spark writing Parquet
  (target >= 0.7 x its throughput at the largest size), growth against linear in events (target
  <= 1.1 x), the kpis job against DuckDB computing kpi_daily from the same silver files (target <= 3 x),
  and the processes' peak memory;
* incremental (default): a lake holding `--history-days` days (default 365) of 1x customers, processed,
  then one more day landed and processed incrementally, against processing that day alone in a fresh
  lake (target <= 1.5 x); `--recompute` adds all days from scratch;
* throughput and growth (on request, small data): ingest against the baseline and the data steps at
  `--sizes` multiples of `--customers`, where per-run fixed costs dominate;
* memory: every process's JVM peak resident set, peak heap and Python peak.

The default run takes well over an hour on a quiet 2-core machine (mostly the 10M-event dataset: its
generation, not measured, and its data steps). Datasets are generated with a fixed seed under the work
folder (default build/bench/) and reused by later runs with the same parameters; each day folder's files
get the modification time of the night after their day, as a landing folder fed daily would have.
Results: BENCHMARKS.md and bench/results.json, both rewritten whole by every run; logs and event logs
stay in the work folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import eventlog, machine
from bench.landing import days_in, events_stats, folder_bytes, link_landing, stamp_landing_times
from bench.params import DATA_STEPS, DEFAULT_DAYS, DEFAULT_EVENTS, DEFAULTS, MODEL_STEPS, TARGETS
from bench.records import ref
from bench.render import render
from bench.results_file import write_results
from bench.scale import SCALE_STEPS, run_scale
from bench.verdicts import evaluate, headline

ROOT = Path(__file__).resolve().parents[1]
# State feeds: a day's folder holds changes only, so "that day alone" still needs all their folders.
DIMENSION_SOURCES = ("customers", "prices")

# train_churn's labelled as-of dates need the churn horizon after them and the split gap between them
# (conf: gold.churn_horizon_days, models.split_gap_days); shorter datasets make it fail, naming the setting.
MODELS_MIN_DAYS = 70
PARTS = ("scale", "throughput", "growth", "incremental")
# The scale part measures throughput and growth at millions of events; the small-data throughput and
# growth parts (fixed costs at thousands of events) run on request.
DEFAULT_PARTS = ("scale", "incremental")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--customers",
        type=int,
        default=DEFAULTS["customers"],
        help="customers at size 1x (default %(default)s)",
    )
    p.add_argument("--days", type=int, default=DEFAULTS["days"], help="days generated (default %(default)s)")
    p.add_argument(
        "--sizes",
        default=DEFAULTS["sizes"],
        help="comma-separated multiples of --customers for the growth runs; the incremental runs use 1x "
        "(default %(default)s)",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiplies --customers, e.g. 0.2 for a quick try (default %(default)s)",
    )
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="generator seed (default %(default)s)")
    p.add_argument(
        "--bad-rate",
        type=float,
        default=DEFAULTS["bad_rate"],
        help="generate.bad_record_rate (default %(default)s, as conf/local.yaml)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=DEFAULTS["repeat"],
        help="runs of ingest and of the baseline each; the fastest counts (default %(default)s)",
    )
    p.add_argument("--models", action="store_true", help="also time train_churn, train_pricing, score")
    p.add_argument(
        "--events",
        default=DEFAULT_EVENTS,
        help="scale part: comma-separated event counts, each a dataset of its own (default %(default)s)",
    )
    p.add_argument(
        "--scale-days",
        type=int,
        default=DEFAULT_DAYS,
        help="scale part: days of each dataset; customers follow from --events (default %(default)s)",
    )
    p.add_argument(
        "--history-days",
        type=int,
        default=DEFAULTS["history_days"],
        help="incremental part: days of history before the new day, 1x customers (default %(default)s)",
    )
    p.add_argument(
        "--recompute",
        action="store_true",
        help="incremental part: also recompute every day from scratch (as long again as the history)",
    )
    p.add_argument(
        "--only",
        default=",".join(DEFAULT_PARTS),
        help="comma-separated parts to run, of " + ", ".join(PARTS) + " (default %(default)s); "
        "BENCHMARKS.md marks the others as not run",
    )
    p.add_argument("--workdir", default=str(ROOT / "build" / "bench"), help="datasets, lakes, logs")
    p.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="the Markdown report")
    p.add_argument("--json", default=str(ROOT / "bench" / "results.json"), help="the raw figures")
    p.add_argument("--fresh-data", action="store_true", help="regenerate datasets even when reusable")
    p.add_argument("--step-timeout", type=int, default=7200, help="seconds before a process is killed")
    args = p.parse_args(argv)
    args.size_list = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    args.parts = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = args.parts - set(PARTS)
    if unknown:
        p.error(f"--only: unknown part(s) {', '.join(sorted(unknown))}")
    if not args.size_list or min(args.size_list) < 1:
        p.error("--sizes: positive integers, e.g. 1,2,4")
    args.base_customers = max(1, round(args.customers * args.scale))
    if args.days < 3:
        p.error("--days: at least 3 (history and one more day)")
    try:
        args.events_list = sorted({int(float(x)) for x in args.events.split(",") if x.strip()})
    except ValueError:
        p.error(f"--events {args.events!r}: comma-separated event counts, e.g. 1000000,10000000")
    if not args.events_list or min(args.events_list) < 1000:
        p.error("--events: at least 1000 events per dataset")
    if args.history_days < 2:
        p.error("--history-days: at least 2")
    return args


FIRST_DAY = dt.date(2026, 1, 1)


def dataset_start(days: int, today: dt.date | None = None) -> str:
    """The first day of a `days`-day dataset: FIRST_DAY, so datasets stay the same from run to run,
    unless the dataset would then reach today (then an earlier January 1st): ingestion quarantines records stamped after their
    arrival day (future_timestamp), so the last day is yesterday at the latest. (A 366-day dataset from
    2026-01-01 ended on 2027-01-01 and, run in December 2026, its new day loaded nothing.)"""
    today = today or dt.datetime.now(dt.UTC).date()
    latest = today - dt.timedelta(days=days)
    # January 1st of that year: a dataset stays reusable for a year rather than a day.
    return min(FIRST_DAY, dt.date(latest.year, 1, 1)).isoformat()


def _now() -> str:
    return dt.datetime.now().strftime("%H:%M:%S")


def _gib(kib: int | None) -> str:
    return "?" if kib is None else f"{kib / 1024 / 1024:.2f} GiB"


def code_version() -> str:
    """The commit measured, and whether the working tree differed from it (figures belong to code)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD")
    if not commit:
        return "unknown (not a git checkout)"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", "libs", "jobs", "conf", "bench")
    return f"{commit}" + (" with uncommitted changes to libs/jobs/conf/bench" if changed else "")


class Bench:
    def __init__(self, args: argparse.Namespace, argv: list[str]) -> None:
        self.args = args
        self.work = Path(args.workdir).resolve()
        self.events_dir = self.work / "eventlogs"
        self.started = time.monotonic()
        self.processes: list[dict] = []
        self.done = 0
        self.measured_seconds = 0.0
        self.planned = self._plan()
        self.failures: list[str] = []
        # The bench's lakes are throwaway and its landing folders are links to datasets, not `generate`'s
        # own output, so refine needs a key: the caller's if set, else one made for this run only.
        self.pseudonym_key = os.environ.get("LAKEPULSE_PSEUDONYM_KEY") or secrets.token_hex(32)
        self.results: dict = {
            "command": " ".join(["python -m bench", *argv]).strip(),
            "code": code_version(),
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "parameters": {
                "customers_1x": args.base_customers,
                "days": args.days,
                "sizes": args.size_list,
                "seed": args.seed,
                "bad_record_rate": args.bad_rate,
                "repeat": args.repeat,
                "models": args.models,
                "parts": sorted(args.parts),
                "events": args.events_list,
                "scale_days": args.scale_days,
                "history_days": args.history_days,
                "recompute": args.recompute,
                "workdir": str(self.work),
            },
            "targets": TARGETS,
            "defaults": DEFAULTS,
            "env_overrides": sorted(k for k in os.environ if k.startswith("LAKEPULSE__")),
            "datasets": {},
        }

    # --- plumbing ------------------------------------------------------------------------------------

    def _plan(self) -> int:
        a = self.args
        steps = len(DATA_STEPS) + (len(MODEL_STEPS) if a.models else 0)
        n = 0
        if "throughput" in a.parts:
            n += 2 * a.repeat * len({min(a.size_list), max(a.size_list)})
        if "growth" in a.parts:
            n += steps * len(a.size_list)
        if "incremental" in a.parts:
            n += (4 if a.recompute else 3) * len(DATA_STEPS)
        if "scale" in a.parts:
            n += (len(SCALE_STEPS) + 1) * len(a.events_list)
        return n

    def log(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[{_now()} +{elapsed / 60:5.1f} min] {text}", flush=True)

    def run_job(
        self,
        scenario: str,
        label: str,
        job: str,
        home: Path,
        job_args: list[str] | tuple[str, ...] = (),
        measured: bool = True,
    ) -> dict:
        """Runs one job in a fresh process; returns its record (timings, memory, event-log summary)."""
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{scenario}-{label}")
        out = self.work / "results" / f"{name}.json"
        log_path = self.work / "logs" / f"{name}.log"
        for folder in (out.parent, log_path.parent, self.events_dir, home):
            folder.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        sets = [f"paths.home={home}"]
        if measured:
            sets += [
                "spark.conf.spark.eventLog.enabled=true",
                f"spark.conf.spark.eventLog.dir=file:{self.events_dir}",
                "spark.conf.spark.eventLog.compress=false",
                "spark.conf.spark.eventLog.rolling.enabled=false",
            ]
        cmd = [sys.executable, "-m", "bench.job", "--out", str(out), job, *job_args]
        for item in sets:
            cmd += ["--set", item]
        env = dict(os.environ, LAKEPULSE_HOME=str(home), LAKEPULSE_PSEUDONYM_KEY=self.pseudonym_key)
        env.setdefault("PYSPARK_PYTHON", sys.executable)
        env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        if measured:
            self.done += 1
            counter = f"({self.done}/{self.planned}) "
        else:
            counter = ""
        eta = ""
        if measured and self.measured_seconds and self.done > 1:
            per = self.measured_seconds / (self.done - 1)
            eta = f" (about {per * (self.planned - self.done + 1) / 60:.0f} min of measured runs left)"
        self.log(f"{counter}{scenario}: {label} ...{eta}")
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        with log_path.open("w", encoding="utf-8") as log_file:
            try:
                proc = subprocess.run(
                    cmd,
                    cwd=ROOT,
                    env=env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    timeout=self.args.step_timeout,
                    check=False,
                )
                code = proc.returncode
            except subprocess.TimeoutExpired:
                code = -1
        wall = time.monotonic() - started
        if measured:
            self.measured_seconds += wall
        record = {
            "scenario": scenario,
            "label": label,
            "job": job,
            "args": list(job_args),
            "home": str(home),
            "log": str(log_path),
            "process_seconds": round(wall, 3),
            "exit_code": code,
            "load_before": round(load_before, 2),
            "load_after": round(os.getloadavg()[0], 2),
        }
        if out.is_file():
            record.update(json.loads(out.read_text(encoding="utf-8")))
        record["ok"] = code == 0 and out.is_file() and record.get("exit_code") == 0
        if measured and record.get("app_id"):
            path = eventlog.find_log(self.events_dir, record["app_id"])
            if path is not None:
                window = (record["ready_epoch_ms"], record["done_epoch_ms"])
                try:
                    record["eventlog"] = eventlog.summarize(path, window).as_dict()
                    record["eventlog_path"] = str(path)
                except (OSError, ValueError, KeyError) as exc:
                    record["eventlog_error"] = f"{type(exc).__name__}: {exc}"
        if measured:
            self.processes.append(record)
        if record["ok"]:
            self.log(
                f"{counter}{scenario}: {label}: {record.get('job_seconds', 0):.1f} s in the job "
                f"(process {wall:.1f} s, JVM CPU {record.get('jvm_cpu_seconds') or 0:.0f} s), "
                f"JVM peak RSS {_gib(record.get('jvm_peak_rss_kib'))}, load {load_before:.1f}"
            )
        else:
            self.failures.append(f"{scenario}: {label} (exit {code}, log {log_path})")
            self.log(f"{counter}{scenario}: {label}: FAILED (exit {code}); see {log_path}")
        return record

    # --- data ----------------------------------------------------------------------------------------

    def dataset(self, size: int) -> Path:
        """The landing folder of the dataset at `size` x customers, generated once (not measured)."""
        a = self.args
        customers = a.base_customers * size
        return self._dataset(f"x{size}", ["--customers", str(customers)], {"customers": customers}, a.days)

    def events_dataset(self, events: int, days: int) -> Path:
        """The landing folder of a dataset of about `events` events (`generate --events`), generated once."""
        from bench.scale import events_label

        key = f"events-{events_label(events)}"
        return self._dataset(key, ["--events", str(events)], {"events_requested": events}, days)

    def history_dataset(self) -> Path:
        """The incremental part's dataset: 1x customers over the history days plus the new day."""
        a = self.args
        days = a.history_days + 1
        return self._dataset(
            f"history-{days}d", ["--customers", str(a.base_customers)], {"customers": a.base_customers}, days
        )

    def _dataset(self, key: str, size_args: list[str], wanted_size: dict, days: int) -> Path:
        a = self.args
        home = self.work / "data" / key
        landing = home / "landing"
        start = dataset_start(days)
        wanted = {**wanted_size, "days": days, "start": start, "seed": a.seed, "bad_record_rate": a.bad_rate}
        manifest = landing / "_truth" / "manifest.json"
        if key in self.results["datasets"]:
            return landing
        reuse = False
        if manifest.is_file() and not a.fresh_data:
            info = json.loads(manifest.read_text(encoding="utf-8"))
            params = {**info.get("parameters", {}), **info.get("requested", {})}
            reuse = all(params.get(k) == v for k, v in wanted.items())
        generate_seconds = generate_record = None
        if reuse:
            self.log(f"data: reusing {landing} ({key}, {days} days)")
        else:
            shutil.rmtree(home, ignore_errors=True)
            record = self.run_job(
                "data",
                f"generate {key} ({' '.join(size_args)}, {days} days)",
                "generate",
                home,
                [
                    *size_args,
                    "--days",
                    str(days),
                    "--start",
                    start,
                    "--seed",
                    str(a.seed),
                    "--bad-rate",
                    str(a.bad_rate),
                    "--overwrite",
                ],
                measured=False,
            )
            if not record["ok"]:
                raise SystemExit(f"bench: generating the {key} dataset failed; see {record['log']}")
            generate_seconds = record.get("job_seconds")
            generate_record = ref(record)
            info = json.loads(manifest.read_text(encoding="utf-8"))
            info["requested"] = wanted_size  # what the dataset was asked for, for reuse by a later run
            manifest.write_text(json.dumps(info, indent=2, sort_keys=True), encoding="utf-8")
        stamp_landing_times(landing)
        info = json.loads(manifest.read_text(encoding="utf-8"))
        stats = events_stats(landing / "events")
        self.results["datasets"][key] = {
            "customers": info.get("parameters", {}).get("customers"),
            "days": days,
            "period": info.get("period"),
            "records": info.get("records"),
            "landing_bytes": folder_bytes(landing),
            "events": stats,
            "generate_seconds": generate_seconds,
            "generate": generate_record,
            "reused": reuse,
            **({"size": int(key[1:])} if key.startswith("x") else {}),
        }
        self.log(
            f"data: {key}: {stats['lines']:,} event lines, {stats['gz_bytes'] / 1e6:.1f} MB gzip, "
            f"{stats['raw_bytes'] / 1e6:.1f} MB uncompressed"
        )
        return landing

    def fresh_home(self, *parts: str) -> Path:
        home = self.work.joinpath(*parts)
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        return home

    # --- the three parts -----------------------------------------------------------------------------

    def throughput(self) -> None:
        """Ingest and baseline on the largest dataset (the target) and on the smallest (for the marginal)."""
        a = self.args
        sizes = sorted({max(a.size_list), min(a.size_list)}, reverse=True)
        runs = []
        for size in sizes:
            landing = self.dataset(size)
            for r in range(1, a.repeat + 1):
                order = ("ingest", "baseline") if r % 2 else ("baseline", "ingest")
                for which in order:
                    home = self.fresh_home("throughput", f"x{size}-{which}-{r}")
                    if which == "ingest":
                        link_landing(landing, home / "landing", lambda s, _d: s == "events")
                        rec = self.run_job(
                            "throughput",
                            f"ingest --source events x{size} #{r}",
                            "ingest",
                            home,
                            ["--source", "events"],
                        )
                    else:
                        rec = self.run_job(
                            "throughput",
                            f"baseline (plain Spark JSON -> Parquet) x{size} #{r}",
                            "baseline",
                            home,
                            ["--input", str(landing / "events")],
                        )
                    rec["variant"] = which
                    rec["size"] = size
                    runs.append(rec)
        self.results["throughput"] = {
            "size": sizes[0],
            "dataset": f"x{sizes[0]}",
            "small_dataset": f"x{sizes[-1]}" if len(sizes) > 1 else None,
            "runs": [ref(x) for x in runs],
        }

    def growth(self) -> None:
        a = self.args
        steps = DATA_STEPS + (MODEL_STEPS if a.models else ())
        sizes = {}
        for size in a.size_list:
            landing = self.dataset(size)
            home = self.fresh_home("growth", f"x{size}")
            link_landing(landing, home / "landing", lambda _s, _d: True)
            records = self.run_steps("growth", f"x{size}", home, steps)
            sizes[str(size)] = {"customers": a.base_customers * size, "home": str(home), "steps": records}
        self.results["growth"] = {"sizes": sizes, "steps": list(steps), "data_steps": list(DATA_STEPS)}

    def incremental(self) -> None:
        a = self.args
        landing = self.history_dataset()
        key = f"history-{a.history_days + 1}d"
        period = self.results["datasets"][key]["period"] or {}
        last = period.get("end") or max(days_in(landing))
        history_days = a.history_days

        hist = self.fresh_home("incremental", "history")
        link_landing(landing, hist / "landing", lambda _s, d: d is None or d < last)
        history = self.run_steps("incremental", f"history ({history_days} days)", hist, DATA_STEPS)
        link_landing(landing, hist / "landing", lambda _s, d: d == last)
        new_day = self.run_steps("incremental", f"day {last} after {history_days} days", hist, DATA_STEPS)

        alone = self.fresh_home("incremental", "day-alone")
        link_landing(
            landing,
            alone / "landing",
            lambda s, d: d == last or (s in DIMENSION_SOURCES and (d is None or d <= last)),
        )
        day_alone = self.run_steps("incremental", f"day {last} alone", alone, DATA_STEPS)

        recompute, recompute_from = {}, None
        if a.recompute:
            home = self.fresh_home("incremental", "recompute")
            link_landing(landing, home / "landing", lambda _s, _d: True)
            label = f"recompute all {history_days + 1} days"
            recompute, recompute_from = (
                self.run_steps("incremental", label, home, DATA_STEPS),
                "incremental/recompute",
            )
        self.results["incremental"] = {
            "dataset": key,
            "day": last,
            "history_days": history_days,
            "history_home": str(hist),
            "day_alone_home": str(alone),
            "history": history,
            "new_day": new_day,
            "day_alone": day_alone,
            "recompute": recompute,
            "recompute_from": recompute_from,
            "gold_reads": {
                "new_day": gold_reads(hist, since=new_day),
                "day_alone": gold_reads(alone),
            },
        }

    def run_steps(self, scenario: str, label: str, home: Path, steps) -> dict:
        out = {}
        for step in steps:
            rec = self.run_job(scenario, f"{label}: {step}", step, home)
            out[step] = ref(rec)
            if not rec["ok"]:
                break
        return out

    # --- finish --------------------------------------------------------------------------------------

    def run(self) -> int:
        a = self.args
        self.work.mkdir(parents=True, exist_ok=True)
        for sub in ("eventlogs", "results", "logs", *PARTS):
            shutil.rmtree(self.work / sub, ignore_errors=True)
        self.results["machine"] = machine.describe(self.work)
        m = self.results["machine"]
        self.log(
            f"bench: {self.planned} measured processes; 1x = {a.base_customers} customers, {a.days} days, "
            f"sizes {a.size_list}; machine {m['cpus_available']} CPUs, load {m['load_average_at_start'][0]:.1f}, "
            f"{m['other_java_processes_at_start']} other java processes"
        )
        if a.models and a.days < MODELS_MIN_DAYS:
            self.log(
                f"bench: warning: --models with {a.days} days: train_churn needs about {MODELS_MIN_DAYS} days "
                "(a 30-day label horizon, then a 30-day gap between training and validation dates)"
            )
        try:
            if "scale" in a.parts:
                run_scale(self)
            if "throughput" in a.parts:
                self.throughput()
            if "growth" in a.parts:
                self.growth()
            if "incremental" in a.parts:
                self.incremental()
        finally:
            self.finish()
        return 1 if self.failures else 0

    def finish(self) -> None:
        r = self.results
        r["processes"] = self.processes
        r["failures"] = self.failures
        r["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        r["elapsed_seconds"] = round(time.monotonic() - self.started, 1)
        r["machine"]["load_average_at_end"] = list(os.getloadavg())
        r["summary"] = evaluate(r)
        Path(self.args.json).parent.mkdir(parents=True, exist_ok=True)
        write_results(r, Path(self.args.json))
        Path(self.args.output).write_text(render(r, json_path=self.args.json), encoding="utf-8")
        self.log(
            f"bench: wrote {self.args.output} and {self.args.json} in {r['elapsed_seconds'] / 60:.1f} min"
        )
        for line in headline(r):
            print("  " + line, flush=True)


def gold_reads(home: Path, since: dict | None = None) -> list[dict]:
    """The gold runs' silver reads (<reports>/gold/runs.jsonl), of the last `since` run only if given."""
    path = home / "reports" / "gold" / "runs.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if since:
        first_app_at = min(
            (dt.datetime.fromtimestamp(v["ready_epoch_ms"] / 1000, dt.UTC) for v in _with_epochs(since)),
            default=None,
        )
        if first_app_at is not None:
            rows = [
                r for r in rows if dt.datetime.fromisoformat(r["at"]) >= first_app_at.replace(microsecond=0)
            ]
    return [
        {
            "job": r.get("job"),
            "table": r.get("table"),
            "from": r.get("from"),
            "to": r.get("to"),
            "rows_written": r.get("rows_written"),
            "files_read": sum(x.get("files", 0) for x in r.get("reads", [])),
            "reads": [
                f"{x['table']} {_span(x.get('from'), x.get('to'))}: {x.get('files')} files"
                for x in r.get("reads", [])
            ],
        }
        for r in rows
    ]


def _span(first: str | None, last: str | None) -> str:
    if first is None and last is None:
        return "(all)"
    return first if first == last else f"{first or '…'}..{last or '…'}"


def _with_epochs(steps: dict) -> list[dict]:
    return [v for v in steps.values() if isinstance(v, dict) and "ready_epoch_ms" in v]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    return Bench(args, argv).run()


if __name__ == "__main__":
    sys.exit(main())
