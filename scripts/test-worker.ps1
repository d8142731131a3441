# Drives a running Secure Package Manager end to end over its REST API (PowerShell version of
# scripts/test-worker.sh): logs in, submits a lockfile, follows the request's processing status until
# every package has settled (Published, Rejected or Pending Approval), then prints a summary and the
# worker status.
#
# Environment (all optional): API_URL (default http://127.0.0.1:5000), SPM_USERNAME / SPM_PASSWORD
# (default: dev-user from .data/dev-users.json, written by `pnpm start`), LOCKFILE (default
# scripts/sample/package-lock.json), TIMEOUT seconds (default 300), POLL_INTERVAL seconds (default 2).
#
# Exit codes: 0 every package settled and none failed with an error; 1 a request failed; 2 timed out;
# 3 settled, but some packages were rejected because of an error.
$ErrorActionPreference = 'Stop'

$Root = (Resolve-Path (Join-Path $PSScriptRoot '..')).Path
$ApiUrl = if ($env:API_URL) { $env:API_URL.TrimEnd('/') } else { 'http://127.0.0.1:5000' }
$Lockfile = if ($env:LOCKFILE) { $env:LOCKFILE } else { Join-Path $Root 'scripts/sample/package-lock.json' }
$Timeout = if ($env:TIMEOUT) { [double]$env:TIMEOUT } else { 300 }
$PollInterval = if ($env:POLL_INTERVAL) { [double]$env:POLL_INTERVAL } else { 2 }
$Settled = @('Published', 'Rejected', 'Pending Approval')

function Fail([string]$Message, [int]$Code = 1) {
  [Console]::Error.WriteLine("test-worker: $Message")
  exit $Code
}

# The API's error as "CODE: message", from an Invoke-RestMethod failure.
function Get-ApiError($ErrorRecord) {
  $status = $null
  if ($ErrorRecord.Exception.Response) { $status = [int]$ErrorRecord.Exception.Response.StatusCode }
  $detail = $ErrorRecord.ErrorDetails.Message
  try {
    $body = $detail | ConvertFrom-Json
    if ($body.error) { $detail = "$($body.error.code): $($body.error.message)" }
  } catch { }
  if (-not $status) { return "cannot reach the API at $ApiUrl ($($ErrorRecord.Exception.Message)); is it running?" }
  return "HTTP ${status}: $detail"
}

function Invoke-Api([string]$Method, [string]$Path, $Body = $null) {
  $params = @{ Method = $Method; Uri = "$ApiUrl$Path"; Headers = @{ Accept = 'application/json' } }
  if ($script:Token) { $params.Headers.Authorization = "Bearer $script:Token" }
  if ($null -ne $Body) { $params.ContentType = 'application/json'; $params.Body = $Body }
  Invoke-RestMethod @params
}

function Show-Workers {
  try { $s = Invoke-Api GET '/api/packages/processing/status' } catch { Write-Host "(worker status unavailable: $(Get-ApiError $_))"; return }
  Write-Host ''
  Write-Host 'Workers:'
  if (-not $s.workers -or $s.workers.Count -eq 0) { Write-Host '  none registered' }
  foreach ($w in $s.workers) {
    $alive = if ($w.alive) { 'alive' } else { 'NOT ALIVE' }
    $who = if ($w.hostname) { "{0} on {1} (pid {2})" -f $w.id, $w.hostname, $w.pid } else { "a worker (host shown to admins only)" }
    Write-Host ("  {0}: {1}, heartbeat {2:N1} s ago, {3} in flight" -f $who, $alive, $w.heartbeat_age_seconds, $w.in_flight)
  }
  Write-Host ("  queue depth {0}, in progress {1}, stuck resets {2}, retries {3}" -f $s.queue_depth, $s.in_progress, $s.stuck_resets, $s.retries)
}

# Every package of the request, page by page (500 a page).
function Get-AllPackages {
  $all = @()
  $page = 1
  do {
    try { $p = Invoke-Api GET "/api/packages/requests/$RequestId/processing-status?page=$page&page_size=500" } catch { Fail "status request failed ($(Get-ApiError $_))" }
    $all += @($p.packages)
    $pages = [Math]::Max(1, [Math]::Ceiling($p.total / $p.page_size))
    $page++
  } while ($page -le $pages)
  return $all
}

if (-not (Test-Path $Lockfile)) { Fail "no lockfile at $Lockfile (set LOCKFILE)" }

$Username = $env:SPM_USERNAME
$Password = $env:SPM_PASSWORD
if (-not $Username -or -not $Password) {
  $usersFile = Join-Path $Root '.data/dev-users.json'
  if (-not (Test-Path $usersFile)) { Fail "set SPM_USERNAME and SPM_PASSWORD (no $usersFile from ``pnpm start`` to take dev-user from)" }
  $known = Get-Content $usersFile -Raw | ConvertFrom-Json
  $devUser = $known.PSObject.Properties.Value | ForEach-Object { $_ } | Where-Object { $_.role -eq 'user' } | Select-Object -First 1
  if (-not $devUser) { Fail "no development user in $usersFile; set SPM_USERNAME and SPM_PASSWORD" }
  $Username = $devUser.username
  $Password = $devUser.password
  Write-Host "Using $Username from .data/dev-users.json"
}

Write-Host "Logging in to $ApiUrl as $Username"
$script:Token = $null
try {
  $login = Invoke-Api POST '/api/auth/login' (@{ username = $Username; password = $Password } | ConvertTo-Json)
} catch { Fail "login failed ($(Get-ApiError $_))" }
$script:Token = $login.token

Write-Host "Submitting $Lockfile"
try {
  # Bytes, not a string: Windows PowerShell would re-encode a string body.
  $upload = Invoke-Api POST '/api/packages/upload' ([IO.File]::ReadAllBytes((Resolve-Path $Lockfile).Path))
} catch { Fail "upload failed ($(Get-ApiError $_))" }
$RequestId = $upload.request_id
Write-Host ("Request {0}: {1}@{2}, {3} packages ({4} new, {5} already known)" -f $RequestId, $upload.application_name, $upload.application_version, $upload.package_count, $upload.new_packages, $upload.existing_packages)
Write-Host ''

$deadline = (Get-Date).AddSeconds($Timeout)
$last = ''
$interactive = -not [Console]::IsOutputRedirected
while ($true) {
  # The summary only: a few hundred bytes however large the request.
  try { $st = Invoke-Api GET "/api/packages/requests/$RequestId/processing-status?summary=true" } catch { Fail "status request failed ($(Get-ApiError $_))" }
  $byStatus = ($st.summary.by_status.PSObject.Properties | ForEach-Object { "$($_.Name): $($_.Value)" }) -join ', '
  $line = ('[{0,3}%] {1}/{2} settled  {3}' -f $st.progress_percent, $st.summary.settled, $st.summary.total, $byStatus)
  if ($interactive) { Write-Host -NoNewline ("`r" + $line.PadRight([Math]::Max($last.Length, $line.Length))) }
  elseif ($line -ne $last) { Write-Host $line }
  $last = $line
  if ($st.done) { break }
  if ((Get-Date) -ge $deadline) {
    if ($interactive) { Write-Host '' }
    [Console]::Error.WriteLine("test-worker: timed out after $Timeout s with packages still in progress:")
    foreach ($p in (Get-AllPackages) | Where-Object { $Settled -notcontains $_.status }) {
      $err = if ($p.last_error) { " last error: $($p.last_error)" } else { '' }
      [Console]::Error.WriteLine("  $($p.name)@$($p.version): $($p.status) (attempts $($p.attempts))$err")
    }
    Show-Workers
    [Console]::Error.WriteLine("Is a worker running and alive? Check its log, and README.md, Troubleshooting.")
    exit 2
  }
  Start-Sleep -Milliseconds ([int]($PollInterval * 1000))
}
if ($interactive) { Write-Host '' }

Write-Host ''
Write-Host "Summary of request ${RequestId}:"
$packages = Get-AllPackages
foreach ($p in $packages) {
  $extra = if ($p.rejection) { " $($p.rejection.kind): $($p.rejection.reason)" } elseif ($p.last_error) { " last error: $($p.last_error)" } else { '' }
  Write-Host (("  {0,-40} {1,-17}{2}" -f "$($p.name)@$($p.version)", $p.status, $extra).TrimEnd())
}
Write-Host ("  published {0}, pending approval {1}, rejected {2}, with errors {3}" -f $st.summary.published, $st.summary.pending_approval, $st.summary.rejected, $st.summary.with_errors)
Show-Workers

$errors = @($packages | Where-Object { $_.rejection -and $_.rejection.kind -eq 'error' }).Count
if ($errors -gt 0) {
  [Console]::Error.WriteLine("test-worker: $errors package(s) were rejected because of an error (see above); an admin can retry them.")
  exit 3
}
Write-Host 'All packages settled.'
