#!/usr/bin/env bash
# Starts the whole product on this machine, from a fresh clone: installs pnpm if missing, installs the
# dependencies, builds, and runs `pnpm start` (scripts/start.mjs): without DATABASE_URL an embedded
# database in .data/pglite, then migrations, development users (printed), the API and the worker.
# Ctrl-C stops everything. Set SKIP_BUILD=1 to start the last build as it is.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

require_node
ensure_pnpm
if [[ "${SKIP_BUILD:-}" != 1 ]]; then
  install_and_build
fi
log "pnpm start"
exec node scripts/start.mjs
