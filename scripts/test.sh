#!/usr/bin/env bash
# Everything a change must pass, from a fresh clone with only Node 20.19+ (and git): installs pnpm if
# missing, installs the dependencies exactly as locked, builds, typechecks, lints, checks the compose
# files and the alert rules (promtool), then runs the unit tests (with the web app's component tests) and
# the integration tests (with the browser tests, in Debian's Chromium, installed here as root in CI). Integration tests need PostgreSQL:
# DATABASE_URL, else a local server on 127.0.0.1:5432 (started if installed but stopped), else testcontainers.
# Ends with one line: "tests: N passed, N failed[, N skipped]".
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

require_node
ensure_pnpm
echo "node $(node --version), pnpm $(pnpm --version)"
install_and_build

log "pnpm typecheck"
pnpm typecheck
log "pnpm lint"
pnpm lint
log "compose files and Dockerfiles"
check_compose
log "Prometheus alert rules"
check_alerts

log "PostgreSQL for the integration tests"
find_database
log "Chromium for the browser tests"
ensure_chromium

rm -f .tmp/test-results/node20-*.json
status=0
log "Unit tests (and the web app's component tests)"
run_vitest node20-unit pnpm exec vitest run --project unit --project web || status=1
log "Integration tests"
run_vitest node20-integration pnpm exec vitest run --project integration || status=1

node scripts/lib/test-summary.mjs tests .tmp/test-results/node20-unit.json .tmp/test-results/node20-integration.json
exit "$status"
