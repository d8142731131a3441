#!/bin/sh
# compose.dev.yml: runs an app from the mounted sources, recompiling on change (tsc --watch for the app
# and @spm/db) and restarting it when its output changes (node --watch).
# Usage: dev-run.sh api server.js | dev-run.sh worker main.js
set -eu
app="$1"
main="$2"
cd /repo
pnpm --filter @spm/db --filter "@spm/$app" --parallel exec tsc -p tsconfig.build.json --watch --preserveWatchOutput &
exec node --watch "apps/$app/dist/$main"
