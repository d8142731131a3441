# Starts the whole product on this machine (Windows PowerShell 5.1+ or PowerShell 7), from a fresh
# clone: installs pnpm if missing, installs the dependencies, builds, and runs `pnpm start`
# (scripts/start.mjs): without DATABASE_URL an embedded database in .data/pglite, then migrations,
# development users (printed), the API and the worker. Ctrl-C stops everything.
# Set $env:SKIP_BUILD = '1' to start the last build as it is.
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'lib/common.ps1')
Set-Location $Root

Assert-Node
Initialize-Pnpm
if ($env:SKIP_BUILD -ne '1') { Invoke-InstallAndBuild }
Write-Step 'pnpm start'
& node scripts/start.mjs
exit $LASTEXITCODE
