# Everything a change must pass (PowerShell version of scripts/test.sh): installs pnpm if missing,
# installs the dependencies exactly as locked, builds, typechecks, lints, checks the compose files,
# then runs the unit (and web component) and the integration (and browser) tests, and ends with
# "tests: N passed, N failed".
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'lib/common.ps1')
Set-Location $Root

Assert-Node
Initialize-Pnpm
Write-Host "node $(& node --version), pnpm $(& pnpm --version)"
Invoke-InstallAndBuild

Write-Step 'pnpm typecheck'
Invoke-Native pnpm @('typecheck')
Write-Step 'pnpm lint'
Invoke-Native pnpm @('lint')
Write-Step 'compose files and Dockerfiles'
Test-Compose

Write-Step 'PostgreSQL for the integration tests'
Find-Database

$results = Join-Path $Root '.tmp/test-results'
New-Item -ItemType Directory -Force -Path $results | Out-Null
$failed = $false
# The unit run includes the web app's component tests; the integration run the browser tests (skipped
# without Chromium: set CHROMIUM_PATH).
foreach ($step in @(@{ Name = 'unit'; Projects = @('--project', 'unit', '--project', 'web') },
    @{ Name = 'integration'; Projects = @('--project', 'integration') })) {
  Write-Step "$($step.Name) tests"
  $report = Join-Path $results "node20-$($step.Name).json"
  Remove-Item -Force -ErrorAction SilentlyContinue $report
  & pnpm exec vitest run @($step.Projects) --reporter=default --reporter=json "--outputFile.json=$report"
  if ($LASTEXITCODE -ne 0) { $failed = $true }
}
& node scripts/lib/test-summary.mjs tests (Join-Path $results 'node20-unit.json') (Join-Path $results 'node20-integration.json')
if ($failed) { exit 1 }
exit 0
