#!/usr/bin/env bash
# Submits one lakepulse job to Spark, locally or to a cluster.
#
#   ./spark-submit.sh [--env local|cluster] [--master URL] [spark-submit options] JOB [job args]
#   ./spark-submit.sh [--env ENV] --remote sc://HOST:PORT JOB [job args]     # a Spark Connect client
#
# It builds the library into build/lakepulse.zip for --py-files (only when a source changed), adds the
# cached Delta jars, the environment's Spark settings and its config file, and runs jobs/JOB.py.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${LAKEPULSE_PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"

die() { echo "spark-submit.sh: error: $1" >&2; exit "${2:-2}"; }

job_summary() {  # first line of the job file's module docstring
  sed -n '1,/"""/{s/^"""//;s/"""$//;p}' "$1" | grep -m1 -v '^\s*$' || true
}

usage() {
  cat <<EOF
usage: ./spark-submit.sh [--env ENV] [--master URL] [spark-submit options] JOB [job args]
Spark Connect client: ./spark-submit.sh [--env ENV] --remote sc://HOST:PORT JOB [job args]

environments (conf/*.yaml): $(cd "$ROOT/conf" && ls *.yaml | sed 's/\.yaml$//' | tr '\n' ' ')
jobs:
EOF
  for f in "$ROOT"/jobs/*.py; do
    printf '  %-15s %s\n' "$(basename "$f" .py)" "$(job_summary "$f")"
  done
  echo
  echo "Job arguments: ./spark-submit.sh JOB --help"
}

ENV_NAME=local
MASTER=""
REMOTE=""
SUBMIT_OPTS=()
# A user's --jars, --py-files, --files and --driver-java-options are added to lakepulse's own (spark-submit
# keeps only the last of each flag, so passing them through would drop the Delta jars or the library).
USER_JARS="" USER_PY_FILES="" USER_FILES="" USER_JAVA_OPTS=""
add_user_list() {
  case "$1" in
    --jars) USER_JARS="${USER_JARS:+$USER_JARS,}$2" ;;
    --py-files) USER_PY_FILES="${USER_PY_FILES:+$USER_PY_FILES,}$2" ;;
    --files) USER_FILES="${USER_FILES:+$USER_FILES,}$2" ;;
    --driver-java-options) USER_JAVA_OPTS="${USER_JAVA_OPTS:+$USER_JAVA_OPTS }$2" ;;
  esac
}
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --env) [ $# -ge 2 ] || die "--env needs a value"; ENV_NAME="$2"; shift 2 ;;
    --env=*) ENV_NAME="${1#--env=}"; shift ;;
    --master) [ $# -ge 2 ] || die "--master needs a value"; MASTER="$2"; shift 2 ;;
    --master=*) MASTER="${1#--master=}"; shift ;;
    --remote) [ $# -ge 2 ] || die "--remote needs a value"; REMOTE="$2"; shift 2 ;;
    --remote=*) REMOTE="${1#--remote=}"; shift ;;
    --jars|--py-files|--files|--driver-java-options)
      [ $# -ge 2 ] || die "$1 needs a value"; add_user_list "$1" "$2"; shift 2 ;;
    --jars=*|--py-files=*|--files=*|--driver-java-options=*) add_user_list "${1%%=*}" "${1#*=}"; shift ;;
    --verbose|--supervise) SUBMIT_OPTS+=("$1"); shift ;;
    --*=*) SUBMIT_OPTS+=("$1"); shift ;;
    --*) [ $# -ge 2 ] || die "$1 needs a value"; SUBMIT_OPTS+=("$1" "$2"); shift 2 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done

[ $# -ge 1 ] || die "no job given (see --help)"
JOB="$1"; shift
JOB_FILE="$ROOT/jobs/$JOB.py"
[ -f "$JOB_FILE" ] || die "unknown job '$JOB' (known: $(cd "$ROOT/jobs" && ls *.py | sed 's/\.py$//' | tr '\n' ' '))"
CONF_FILE="$ROOT/conf/$ENV_NAME.yaml"
[ -f "$CONF_FILE" ] || die "unknown environment '$ENV_NAME' (known: $(cd "$ROOT/conf" && ls *.yaml | sed 's/\.yaml$//' | tr '\n' ' '))"

# A Spark Connect client needs no JVM, jars or archive of its own: the server has them. The job runs in
# this Python, and spark-submit's options (which configure a JVM) do not apply.
if [ -n "$REMOTE" ]; then
  [ -z "$MASTER" ] || die "--master and --remote exclude each other: the Connect server has its own master"
  [ "${#SUBMIT_OPTS[@]}" -eq 0 ] && [ -z "$USER_JARS$USER_PY_FILES$USER_FILES$USER_JAVA_OPTS" ] \
    || die "spark-submit options configure a JVM; with --remote the Connect server's own settings apply"
  export LAKEPULSE_ROOT="$ROOT"
  export PYTHONPATH="$ROOT/libs:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
  exec "$PY" "$JOB_FILE" --env "$ENV_NAME" --config "$CONF_FILE" --remote "$REMOTE" "$@"
fi

# The library (and the sample kit, for `generate`) as an archive for executors; rebuilt only when a
# source file is newer than it.
ARCHIVE="$ROOT/build/lakepulse.zip"
if [ ! -f "$ARCHIVE" ] || [ -n "$(find "$ROOT/libs/lakepulse" "$ROOT/libs/lakepulse_sample" -newer "$ARCHIVE" -print -quit)" ]; then
  mkdir -p "$ROOT/build"
  # Written under a name of this process, then renamed: two submissions at once never mix their writes.
  (cd "$ROOT/libs" && "$PY" -c '
import sys, zipfile, pathlib
out = zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED)
for p in sorted([*pathlib.Path("lakepulse").rglob("*"), *pathlib.Path("lakepulse_sample").rglob("*")]):
    if p.is_file() and "__pycache__" not in p.parts:
        out.write(p)
out.close()' "$ARCHIVE.$$.tmp" && mv -f "$ARCHIVE.$$.tmp" "$ARCHIVE")
fi

JARS="$(cd "$ROOT/libs" && "$PY" -m lakepulse.runtime.jars)" || exit 1

# Master and Spark settings of the environment, after --set / LAKEPULSE__* overrides are applied.
mapfile -t SPARK_ARGS < <(cd "$ROOT/libs" && "$PY" -m lakepulse.runtime.submit_args --config "$CONF_FILE" --env "$ENV_NAME" "$@") \
  || exit 2
[ "${#SPARK_ARGS[@]}" -gt 0 ] || exit 2
[ -n "$MASTER" ] && SPARK_ARGS[1]="$MASTER"

if [ -n "${SPARK_HOME:-}" ] && [ -x "$SPARK_HOME/bin/spark-submit" ]; then
  SUBMIT="$SPARK_HOME/bin/spark-submit"
else
  SUBMIT="$("$PY" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit"))')"
fi

export LAKEPULSE_ROOT="$ROOT"
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$PY}"
export PYSPARK_DRIVER_PYTHON="${PYSPARK_DRIVER_PYTHON:-$PY}"
exec "$SUBMIT" \
  "${SPARK_ARGS[@]}" \
  --name "lakepulse-$JOB" \
  --driver-java-options "-Dlog4j.configurationFile=file:$ROOT/conf/log4j2.properties${USER_JAVA_OPTS:+ $USER_JAVA_OPTS}" \
  --jars "$JARS${USER_JARS:+,$USER_JARS}" \
  --py-files "$ARCHIVE${USER_PY_FILES:+,$USER_PY_FILES}" \
  --files "$CONF_FILE${USER_FILES:+,$USER_FILES}" \
  ${SUBMIT_OPTS[@]+"${SUBMIT_OPTS[@]}"} \
  "$JOB_FILE" --env "$ENV_NAME" --config "$CONF_FILE" "$@"
