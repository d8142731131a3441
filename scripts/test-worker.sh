#!/usr/bin/env bash
# Drives a running Secure Package Manager end to end over its REST API: logs in, submits a lockfile,
# follows the request's processing status until every package has settled (Published, Rejected or
# Pending Approval), then prints a summary and the worker status.
#
# Environment (all optional):
#   API_URL        where the API answers                      (default http://127.0.0.1:5000)
#   SPM_USERNAME   user to log in as; with SPM_PASSWORD       (default: dev-user from .data/dev-users.json,
#   SPM_PASSWORD                                               which `pnpm start` writes)
#   LOCKFILE       the lockfile to submit                     (default scripts/sample/package-lock.json)
#   TIMEOUT        seconds to wait for every package to settle (default 300)
#   POLL_INTERVAL  seconds between status polls               (default 2)
#
# Exit codes: 0 every package settled and none failed with an error; 1 a request failed (login,
# upload, status); 2 timed out; 3 settled, but some packages were rejected because of an error.
# Needs bash, curl and node (for JSON; no jq).
# The JavaScript snippets below are single-quoted on purpose: their ${...} are template literals.
# shellcheck disable=SC2016
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
API_URL="${API_URL:-http://127.0.0.1:5000}"
API_URL="${API_URL%/}"
LOCKFILE="${LOCKFILE:-$ROOT/scripts/sample/package-lock.json}"
TIMEOUT="${TIMEOUT:-300}"
POLL_INTERVAL="${POLL_INTERVAL:-2}"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

die() {
  echo "test-worker: $*" >&2
  exit 1
}

command -v curl >/dev/null || die "curl is required"
command -v node >/dev/null || die "node is required"
[[ -f "$LOCKFILE" ]] || die "no lockfile at $LOCKFILE (set LOCKFILE)"

# json EXPR < file: evaluates a JavaScript expression over the parsed JSON `j` and prints the result
# (strings as they are, anything else as JSON).
json() {
  node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const v = (0, eval)("(j) => (" + process.argv[1] + ")")(j);
    process.stdout.write(typeof v === "string" ? v : JSON.stringify(v ?? null));
  ' "$1"
}

# api METHOD PATH [BODY_FILE] [ETAG]: the response body goes to $TMP/body, its headers to $TMP/headers,
# the HTTP status to $STATUS. With ETAG the request is conditional: a 304 leaves $TMP/body empty.
STATUS=0
api() {
  local method="$1" path="$2" body="${3:-}" etag="${4:-}"
  local args=(-sS -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -X "$method" -H 'Accept: application/json')
  [[ -n "${TOKEN:-}" ]] && args+=(-H "Authorization: Bearer $TOKEN")
  [[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' --data-binary "@$body")
  [[ -n "$etag" ]] && args+=(-H "If-None-Match: $etag")
  if ! STATUS="$(curl "${args[@]}" "$API_URL$path")"; then
    die "cannot reach the API at $API_URL (is it running? start it with ./scripts/dev.sh or set API_URL)"
  fi
}

# The error message of an error response, or the raw body.
error_of() {
  json 'j.error ? `${j.error.code}: ${j.error.message}` : JSON.stringify(j)' <"$TMP/body" 2>/dev/null || cat "$TMP/body"
}

# Prints the workers and the queue from GET /api/packages/processing/status.
print_workers() {
  api GET /api/packages/processing/status
  if [[ "$STATUS" != 200 ]]; then
    echo "(worker status unavailable: HTTP $STATUS: $(error_of))"
    return
  fi
  echo
  echo "Workers:"
  json '(j.workers.length ? j.workers.map((w, i) => `  ${w.hostname ? `${w.id} on ${w.hostname} (pid ${w.pid})` : `worker ${i + 1} (host shown to admins only)`}: ${w.alive ? "alive" : "NOT ALIVE"}, heartbeat ${w.heartbeat_age_seconds.toFixed(1)} s ago, ${w.in_flight} in flight`).join("\n") : "  none registered") + `\n  queue depth ${j.queue_depth}, in progress ${j.in_progress}, stuck resets ${j.stuck_resets}, retries ${j.retries}`' <"$TMP/body"
  echo
}

# Every package of the request, page by page (500 a page), into $TMP/packages.json as one JSON array.
fetch_packages() {
  local page=1 pages=1
  echo '[]' >"$TMP/packages.json"
  while ((page <= pages)); do
    api GET "/api/packages/requests/$REQUEST_ID/processing-status?page=$page&page_size=500"
    [[ "$STATUS" == 200 ]] || die "status request failed (HTTP $STATUS): $(error_of)"
    pages="$(json 'Math.max(1, Math.ceil(j.total / j.page_size))' <"$TMP/body")"
    PAGE_FILE="$TMP/body" node -e '
      const fs = require("fs");
      const all = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
      all.push(...JSON.parse(fs.readFileSync(process.env.PAGE_FILE, "utf8")).packages);
      fs.writeFileSync(process.argv[1], JSON.stringify(all));
    ' "$TMP/packages.json"
    page=$((page + 1))
  done
}

if [[ -z "${SPM_USERNAME:-}" || -z "${SPM_PASSWORD:-}" ]]; then
  # The database `pnpm start` started last comes first in the file.
  users="$ROOT/.data/dev-users.json"
  [[ -f "$users" ]] || die "set SPM_USERNAME and SPM_PASSWORD (no $users from \`pnpm start\` to take dev-user from)"
  SPM_USERNAME="$(json 'Object.values(j).flat().find((u) => u.role === "user")?.username ?? ""' <"$users")"
  SPM_PASSWORD="$(json 'Object.values(j).flat().find((u) => u.role === "user")?.password ?? ""' <"$users")"
  [[ -n "$SPM_USERNAME" ]] || die "no development user in $users; set SPM_USERNAME and SPM_PASSWORD"
  echo "Using $SPM_USERNAME from .data/dev-users.json"
fi

echo "Logging in to $API_URL as $SPM_USERNAME"
USERNAME="$SPM_USERNAME" PASSWORD="$SPM_PASSWORD" node -e \
  'process.stdout.write(JSON.stringify({ username: process.env.USERNAME, password: process.env.PASSWORD }))' \
  >"$TMP/login.json"
api POST /api/auth/login "$TMP/login.json"
[[ "$STATUS" == 200 ]] || die "login failed (HTTP $STATUS): $(error_of)"
TOKEN="$(json 'j.token' <"$TMP/body")"

echo "Submitting $LOCKFILE"
api POST /api/packages/upload "$LOCKFILE"
[[ "$STATUS" == 202 ]] || die "upload failed (HTTP $STATUS): $(error_of)"
REQUEST_ID="$(json 'j.request_id' <"$TMP/body")"
json '`Request ${j.request_id}: ${j.application_name}@${j.application_version}, ${j.package_count} packages (${j.new_packages} new, ${j.existing_packages} already known)`' <"$TMP/body"
echo

deadline=$((SECONDS + TIMEOUT))
last=""
done_flag=false
etag=""
# The poll asks for the summary only (a few hundred bytes however large the request), conditionally:
# while nothing changed the API answers 304 and the last summary stands.
while :; do
  api GET "/api/packages/requests/$REQUEST_ID/processing-status?summary=true" "" "$etag"
  if [[ "$STATUS" == 200 ]]; then
    cp "$TMP/body" "$TMP/summary.json"
    etag="$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$TMP/headers" | tr -d '\r')"
  elif [[ "$STATUS" != 304 ]]; then
    die "status request failed (HTTP $STATUS): $(error_of)"
  fi
  cp "$TMP/summary.json" "$TMP/body"
  line="$(json '`[${String(j.progress_percent).padStart(3)}%] ${j.summary.settled}/${j.summary.total} settled  ` + Object.entries(j.summary.by_status).map(([s, n]) => `${s}: ${n}`).join(", ")' <"$TMP/body")"
  done_flag="$(json 'j.done' <"$TMP/body")"
  if [[ -t 1 ]]; then
    printf '\r\033[K%s' "$line"
  elif [[ "$line" != "$last" ]]; then
    printf '%s\n' "$line"
  fi
  last="$line"
  [[ "$done_flag" == true ]] && break
  if ((SECONDS >= deadline)); then
    [[ -t 1 ]] && echo
    echo "test-worker: timed out after ${TIMEOUT} s with packages still in progress:" >&2
    fetch_packages
    json 'j.filter((p) => !["Published", "Rejected", "Pending Approval"].includes(p.status)).map((p) => `  ${p.name}@${p.version}: ${p.status} (attempts ${p.attempts})${p.last_error ? ` last error: ${p.last_error}` : ""}`).join("\n")' <"$TMP/packages.json" >&2
    echo >&2
    print_workers >&2
    echo "Is a worker running and alive? Check its log, and README.md, Troubleshooting." >&2
    exit 2
  fi
  sleep "$POLL_INTERVAL"
done
[[ -t 1 ]] && echo
cp "$TMP/body" "$TMP/final.json"
fetch_packages

echo
echo "Summary of request $REQUEST_ID:"
json 'j.map((p) => (`  ${(p.name + "@" + p.version).padEnd(40)} ${p.status.padEnd(17)}` + (p.rejection ? ` ${p.rejection.kind}: ${p.rejection.reason}` : "") + (p.last_error && !p.rejection ? ` last error: ${p.last_error}` : "")).trimEnd()).join("\n")' <"$TMP/packages.json"
echo
json '`  published ${j.summary.published}, pending approval ${j.summary.pending_approval}, rejected ${j.summary.rejected}, with errors ${j.summary.with_errors}`' <"$TMP/final.json"
echo

print_workers

errors="$(json 'j.filter((p) => p.rejection && p.rejection.kind === "error").length' <"$TMP/packages.json")"
if ((errors > 0)); then
  echo "test-worker: $errors package(s) were rejected because of an error (see above); an admin can retry them." >&2
  exit 3
fi
echo "All packages settled."
