"""The benchmark command: measures lakepulse on this machine in one run and writes BENCHMARKS.md.

    make bench                       # = .venv/bin/python -m bench
    .venv/bin/python -m bench --customers 300 --days 28 --sizes 1,2,4 --repeat 2

What it measures (each measured job runs in a fresh Python + JVM process, `bench/job.py`, with a Spark
event log; nothing is timed inside the test suite):

1. ingestion throughput: `ingest --source events` on the largest dataset against plain Spark reading
   the same files with the same schema and writing Parquet (`bench/baseline_parquet.py`), in events/s
   and MB/s per core, and their ratio (target: ingest >= 0.7 x the baseline); both again on the
   smallest dataset, for a marginal figure in which per-run fixed costs cancel;
2. growth: the data steps of the pipeline (ingest, refine, features, kpis; the model steps with
   `--models`, reported apart) at each size of `--sizes` (customers x size, same days and seed), against
   linear growth (target: no worse than 1.1 x linear);
3. incremental: a lake holding the first N = days - 1 days, processed, then the last day landed and
   processed incrementally, against recomputing all days from scratch and against processing that day
   alone (target: incremental <= 1.5 x that day alone);
4. driver peak memory of every process (the JVM's peak resident set, its peak heap, Python's peak).

Defaults (1x = 300 customers x 28 days, sizes 1,2,4): 28 measured processes and 3 generations, about
20-25 minutes on a quiet 2-core machine (estimated from the JVM CPU time of smaller runs; a busy machine
doubles it). Datasets are generated with a fixed seed under the work folder (default build/bench/,
never measured) and reused by later runs with the same parameters. Results: BENCHMARKS.md and bench/results.json,
both rewritten whole by every run; logs and event logs stay in the work folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from bench import eventlog, machine, report

ROOT = Path(__file__).resolve().parents[1]
DATA_STEPS = ("ingest", "refine", "features", "kpis")
MODEL_STEPS = ("train_churn", "train_pricing", "score")
# State feeds: a day's folder holds changes only, so "that day alone" still needs all their folders.
DIMENSION_SOURCES = ("customers", "prices")
DAY_FOLDER = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
TARGETS = {"ingest_ratio_min": 0.7, "growth_max": 1.1, "incremental_max": 1.5}

# train_churn's labelled as-of dates need the churn horizon after them and the split gap between them
# (conf: gold.churn_horizon_days, models.split_gap_days); shorter datasets make it fail, naming the setting.
MODELS_MIN_DAYS = 70
DEFAULTS = {"customers": 300, "days": 28, "sizes": "1,2,4", "seed": 42, "bad_rate": 0.002, "repeat": 1}


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
        "--only",
        default="throughput,growth,incremental",
        help="comma-separated parts to run (default: all); BENCHMARKS.md marks the others as not run",
    )
    p.add_argument("--workdir", default=str(ROOT / "build" / "bench"), help="datasets, lakes, logs")
    p.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="the Markdown report")
    p.add_argument("--json", default=str(ROOT / "bench" / "results.json"), help="the raw figures")
    p.add_argument("--fresh-data", action="store_true", help="regenerate datasets even when reusable")
    p.add_argument("--step-timeout", type=int, default=7200, help="seconds before a process is killed")
    args = p.parse_args(argv)
    args.size_list = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    args.parts = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = args.parts - {"throughput", "growth", "incremental"}
    if unknown:
        p.error(f"--only: unknown part(s) {', '.join(sorted(unknown))}")
    if not args.size_list or min(args.size_list) < 1:
        p.error("--sizes: positive integers, e.g. 1,2,4")
    args.base_customers = max(1, round(args.customers * args.scale))
    if args.days < 3:
        p.error("--days: at least 3 (history and one more day)")
    return args


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
            n += 3 * len(DATA_STEPS) + (0 if "growth" in a.parts and 1 in a.size_list else len(DATA_STEPS))
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
        env = dict(os.environ, LAKEPULSE_HOME=str(home))
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
        home = self.work / "data" / f"x{size}"
        landing = home / "landing"
        customers = a.base_customers * size
        wanted = {
            "customers": customers,
            "days": a.days,
            "seed": a.seed,
            "bad_record_rate": a.bad_rate,
        }
        manifest = landing / "_truth" / "manifest.json"
        key = f"x{size}"
        if key in self.results["datasets"]:
            return landing
        reuse = False
        if manifest.is_file() and not a.fresh_data:
            params = json.loads(manifest.read_text(encoding="utf-8")).get("parameters", {})
            reuse = all(params.get(k) == v for k, v in wanted.items())
        generate_seconds = None
        if reuse:
            self.log(f"data: reusing {landing} ({customers} customers, {a.days} days)")
        else:
            shutil.rmtree(home, ignore_errors=True)
            record = self.run_job(
                "data",
                f"generate x{size} ({customers} customers, {a.days} days)",
                "generate",
                home,
                [
                    "--customers",
                    str(customers),
                    "--days",
                    str(a.days),
                    "--seed",
                    str(a.seed),
                    "--bad-rate",
                    str(a.bad_rate),
                    "--overwrite",
                ],
                measured=False,
            )
            if not record["ok"]:
                raise SystemExit(f"bench: generating the x{size} dataset failed; see {record['log']}")
            generate_seconds = record.get("job_seconds")
        info = json.loads(manifest.read_text(encoding="utf-8"))
        stats = events_stats(landing / "events")
        self.results["datasets"][key] = {
            "size": size,
            "customers": customers,
            "days": a.days,
            "period": info.get("period"),
            "records": info.get("records"),
            "landing_bytes": folder_bytes(landing),
            "events": stats,
            "generate_seconds": generate_seconds,
            "reused": reuse,
        }
        self.log(
            f"data: x{size}: {stats['lines']:,} event lines, {stats['gz_bytes'] / 1e6:.1f} MB gzip, "
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
            "runs": [_ref(x) for x in runs],
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
        landing = self.dataset(1)
        period = self.results["datasets"]["x1"]["period"] or {}
        last = period.get("end") or max(days_in(landing))
        history_days = a.days - 1

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

        growth_1x = self.results.get("growth", {}).get("sizes", {}).get("1")
        if growth_1x is not None:
            recompute, recompute_from = growth_1x["steps"], "growth x1"
        else:
            home = self.fresh_home("incremental", "recompute")
            link_landing(landing, home / "landing", lambda _s, _d: True)
            recompute = self.run_steps("incremental", f"recompute all {a.days} days", home, DATA_STEPS)
            recompute_from = "incremental/recompute"
        self.results["incremental"] = {
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
            out[step] = _ref(rec)
            if not rec["ok"]:
                break
        return out

    # --- finish --------------------------------------------------------------------------------------

    def run(self) -> int:
        a = self.args
        self.work.mkdir(parents=True, exist_ok=True)
        for sub in ("eventlogs", "results", "logs", "throughput", "growth", "incremental"):
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
        r["summary"] = report.evaluate(r)
        Path(self.args.json).parent.mkdir(parents=True, exist_ok=True)
        report.write_results(r, Path(self.args.json))
        Path(self.args.output).write_text(report.render(r, json_path=self.args.json), encoding="utf-8")
        self.log(
            f"bench: wrote {self.args.output} and {self.args.json} in {r['elapsed_seconds'] / 60:.1f} min"
        )
        for line in report.headline(r):
            print("  " + line, flush=True)


def _ref(record: dict) -> dict:
    """A step's record as stored under its part (the full record is in `processes`)."""
    keep = (
        "label",
        "job",
        "ok",
        "job_seconds",
        "startup_seconds",
        "process_seconds",
        "jvm_peak_rss_kib",
        "jvm_heap_peak_bytes",
        "python_peak_rss_kib",
        "jvm_cpu_seconds",
        "python_cpu_seconds",
        "cores",
        "app_id",
        "load_before",
        "load_after",
        "log",
        "variant",
        "size",
        "ready_epoch_ms",
        "done_epoch_ms",
    )
    return {k: record[k] for k in keep if k in record}


# --- landing helpers ------------------------------------------------------------------------------------


def _visible(name: str) -> bool:
    return not name.startswith((".", "_"))


def link_landing(src: Path, dst: Path, include: Callable[[str, str | None], bool]) -> int:
    """Hard-links (else copies) the landing files of `src` that `include(source, day)` keeps into `dst`."""
    count = 0
    for source in sorted(p for p in src.iterdir() if p.is_dir() and _visible(p.name)):
        for entry in sorted(source.iterdir()):
            match = DAY_FOLDER.match(entry.name)
            if entry.is_dir() and match:
                if not include(source.name, match.group(1)):
                    continue
                files = [f for f in entry.iterdir() if f.is_file() and _visible(f.name)]
                target = dst / source.name / entry.name
            elif entry.is_file() and _visible(entry.name) and include(source.name, None):
                files, target = [entry], dst / source.name
            else:
                continue
            target.mkdir(parents=True, exist_ok=True)
            for f in files:
                out = target / f.name
                if out.exists():
                    continue
                try:
                    os.link(f, out)
                except OSError:
                    shutil.copy2(f, out)
                count += 1
    return count


def days_in(landing: Path) -> list[str]:
    return sorted({m.group(1) for p in landing.glob("*/*") if (m := DAY_FOLDER.match(p.name))})


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and _visible(p.name))


def events_stats(folder: Path) -> dict:
    """Lines and bytes of the events landing files: as stored (gzip) and uncompressed.

    A truncated gzip file (the generator plants one) counts the lines and bytes readable before its end.
    """
    files = sorted(p for p in folder.rglob("*") if p.is_file() and _visible(p.name))
    lines = raw = stored = 0
    for f in files:
        stored += f.stat().st_size
        opener = gzip.open if f.name.endswith(".gz") else open
        try:
            with opener(f, "rb") as stream:
                while chunk := stream.read(1 << 20):
                    raw += len(chunk)
                    lines += chunk.count(b"\n")
        except (EOFError, OSError, zlib.error):
            continue
    return {"files": len(files), "lines": lines, "gz_bytes": stored, "raw_bytes": raw}


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
