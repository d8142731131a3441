# Shared by scripts/dev.sh and scripts/test.sh (sourced, not run): finds the repository, checks Node,
# and makes the pinned pnpm available, installing it when missing.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export ROOT

log() {
  printf '\n==> %s\n' "$*"
}

die() {
  printf '%s\n' "$*" >&2
  exit 1
}

require_node() {
  command -v node >/dev/null || die "Node.js 20.19 or newer is required (node is not on PATH)."
  # shellcheck disable=SC2016 # JavaScript template literal, not shell
  node -e '
    const [maj, min] = process.versions.node.split(".").map(Number);
    if (maj < 20 || (maj === 20 && min < 19)) {
      console.error(`Node.js 20.19 or newer is required; this is ${process.version}.`);
      process.exit(1);
    }
  ' || exit 1
}

# The pnpm version the repository pins in package.json ("packageManager": "pnpm@X.Y.Z").
pnpm_version() {
  node -p "require('$ROOT/package.json').packageManager.split('@')[1]"
}

# Puts pnpm (the pinned major) on PATH. Installs it with npm when missing: globally where npm may, else
# into .tmp/tools in the repository. Corepack is not used: its download fails on some networks.
ensure_pnpm() {
  local want major
  want="$(pnpm_version)"
  major="${want%%.*}"
  if command -v pnpm >/dev/null && [[ "$(pnpm --version 2>/dev/null)" == "$major".* ]]; then
    return
  fi
  local tools="$ROOT/.tmp/tools"
  if [[ -x "$tools/node_modules/.bin/pnpm" ]]; then
    export PATH="$tools/node_modules/.bin:$PATH"
    return
  fi
  log "Installing pnpm@$want"
  if npm install -g "pnpm@$want" >/dev/null 2>&1 && command -v pnpm >/dev/null &&
    [[ "$(pnpm --version 2>/dev/null)" == "$major".* ]]; then
    return
  fi
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-save --no-audit --no-fund "pnpm@$want" >/dev/null ||
    die "Could not install pnpm@$want with npm. Install it yourself (npm install -g pnpm@$want) and retry."
  export PATH="$tools/node_modules/.bin:$PATH"
}

install_and_build() {
  log "pnpm install --frozen-lockfile"
  pnpm install --frozen-lockfile
  log "pnpm build"
  pnpm build
}

# Sets DATABASE_URL for the integration tests when it is unset: a PostgreSQL answering on
# 127.0.0.1:5432 (user postgres, trust auth, as on CI machines) is used; a local cluster that is
# installed but stopped is started first. Otherwise it stays unset and the tests use testcontainers.
find_database() {
  if [[ -n "${DATABASE_URL:-}" ]]; then
    echo "Integration tests use DATABASE_URL from the environment."
    return
  fi
  local url="postgres://postgres@127.0.0.1:5432/postgres"
  if ! command -v pg_isready >/dev/null; then
    echo "No pg_isready here and no DATABASE_URL: the integration tests will try testcontainers (Docker)."
    return
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432 && command -v pg_lsclusters >/dev/null; then
    local ver cluster port status
    while read -r ver cluster port status _; do
      if [[ "$port" == 5432 && "$status" == down* ]]; then
        echo "Starting the local PostgreSQL cluster $ver/$cluster"
        pg_ctlcluster --skip-systemctl-redirect "$ver" "$cluster" start || true
      fi
    done < <(pg_lsclusters -h 2>/dev/null || true)
    local _
    for _ in $(seq 1 30); do
      pg_isready -q -h 127.0.0.1 -p 5432 && break
      sleep 1
    done
  fi
  if pg_isready -q -h 127.0.0.1 -p 5432; then
    export DATABASE_URL="$url"
    echo "Integration tests use the local PostgreSQL: $url"
  else
    echo "No PostgreSQL on 127.0.0.1:5432 and no DATABASE_URL: the integration tests will try testcontainers (Docker)."
  fi
}

# Checks the compose files: with docker-compose when it is there (installed from Debian's packages when
# missing, as root in CI), else by parsing them (scripts/lib/check-compose.mjs) so a syntax error still
# fails the run.
check_compose() {
  local files=(-f "$ROOT/compose.base.yml" -f "$ROOT/compose.dev.yml")
  if ! command -v docker-compose >/dev/null && [[ "${CI:-}" == true && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "Installing docker-compose (Debian) to check the compose files"
    { timeout 300 apt-get install -y -qq docker-compose >/dev/null 2>&1 ||
      { timeout 300 apt-get update -qq >/dev/null 2>&1 && timeout 300 apt-get install -y -qq docker-compose >/dev/null 2>&1; }; } ||
      echo "(apt-get could not install docker-compose; falling back to a parse check)"
  fi
  node "$ROOT/scripts/lib/check-compose.mjs" "$ROOT/compose.base.yml" "$ROOT/compose.dev.yml"
  if command -v docker-compose >/dev/null; then
    # Interpolation needs no secrets to validate; the operator's .env is not read here.
    (cd "$ROOT" && docker-compose "${files[@]}" config -q)
    echo "docker-compose config: OK"
  else
    echo "docker-compose is not installed: the compose files were parsed and checked, not validated by compose."
  fi
}

# The Prometheus alert rules (docker/prometheus/alerts.yml): `promtool check rules`, then the rule tests
# (alerts.test.yml). promtool comes with Debian's prometheus package, installed as root in CI; elsewhere
# the check is skipped, saying so.
check_alerts() {
  local dir="$ROOT/docker/prometheus"
  if ! command -v promtool >/dev/null && [[ "${CI:-}" == true && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "Installing prometheus (Debian, for promtool) to check the alert rules"
    { timeout 600 env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 ||
      { timeout 300 apt-get update -qq >/dev/null 2>&1 &&
        timeout 600 env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; }; } ||
      echo "(apt-get could not install prometheus)"
  fi
  if command -v promtool >/dev/null; then
    (cd "$dir" && promtool check rules alerts.yml && promtool test rules alerts.test.yml)
  elif [[ "${CI:-}" == true ]]; then
    echo "promtool is missing: the alert rules cannot be checked" >&2
    return 1
  else
    echo "promtool is not installed (apt-get install prometheus): the alert rules were not checked."
  fi
}

# Debian's Chromium for the browser tests (test/browser): installed with apt-get when missing, as root in
# CI (Playwright's own browser download cannot work here). Elsewhere the browser tests are skipped, saying
# so, unless CHROMIUM_PATH names a Chromium.
ensure_chromium() {
  local bin="${CHROMIUM_PATH:-/usr/bin/chromium}"
  if [[ -x "$bin" ]]; then
    echo "Browser tests use $("$bin" --version 2>/dev/null | head -1 || echo "$bin")"
    return
  fi
  if [[ "${CI:-}" == true && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "Installing chromium (Debian) for the browser tests"
    { timeout 600 apt-get install -y -qq chromium >/dev/null 2>&1 ||
      { timeout 300 apt-get update -qq >/dev/null 2>&1 && timeout 600 apt-get install -y -qq chromium >/dev/null 2>&1; }; } ||
      echo "(apt-get could not install chromium: the browser tests will fail)"
  else
    echo "No Chromium at $bin: the browser tests are skipped (apt-get install chromium, or set CHROMIUM_PATH)."
  fi
}

# vitest with a JSON report next to the usual output, so scripts can total the results.
run_vitest() {
  local report="$1"
  shift
  mkdir -p "$ROOT/.tmp/test-results"
  "$@" --reporter=default --reporter=json --outputFile.json="$ROOT/.tmp/test-results/$report.json"
}
