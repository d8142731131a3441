#!/bin/sh
# compose.dev.yml: runs an app from the mounted sources, recompiling on change (tsc --watch for the app
# and @spm/db, and vite for the web app the API serves) and restarting it when its output changes
# (node --watch).
# Usage: dev-run.sh api server.js | dev-run.sh worker main.js
set -eu
app="$1"
main="$2"
cd /repo
pnpm --filter @spm/db --filter "@spm/$app" --parallel exec tsc -p tsconfig.build.json --watch --preserveWatchOutput &
# The API serves the web app: rebuild it when its mounted sources change (reload the page to see it).
if [ "$app" = api ]; then
  pnpm --filter @spm/web exec vite build --watch --logLevel warn &
fi
exec node --watch "apps/$app/dist/$main"
