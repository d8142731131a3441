# Shared by scripts/dev.ps1 and scripts/test.ps1 (dot-sourced): the same steps as scripts/lib/common.sh.

$Root = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path

function Write-Step([string]$Message) {
  Write-Host ''
  Write-Host "==> $Message"
}

# Runs a native command and stops the script when it fails (PowerShell does not, by default).
function Invoke-Native {
  param([Parameter(Mandatory)][string]$Command, [string[]]$Arguments = @())
  & $Command @Arguments
  if ($LASTEXITCODE -ne 0) { throw "$Command $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Assert-Node {
  if (-not (Get-Command node -ErrorAction SilentlyContinue)) { throw 'Node.js 20.19 or newer is required (node is not on PATH).' }
  & node -e "const [a,b]=process.versions.node.split('.').map(Number);if(a<20||(a===20&&b<19)){console.error('Node.js 20.19 or newer is required; this is '+process.version+'.');process.exit(1)}"
  if ($LASTEXITCODE -ne 0) { exit 1 }
}

function Get-PnpmVersion {
  (Get-Content (Join-Path $Root 'package.json') -Raw | ConvertFrom-Json).packageManager.Split('@')[1]
}

# Puts the pinned pnpm major on PATH, installing it with npm when missing (globally where npm may, else
# into .tmp/tools). Corepack is not used: its download fails on some networks.
function Initialize-Pnpm {
  $want = Get-PnpmVersion
  $major = $want.Split('.')[0]
  $have = $null
  if (Get-Command pnpm -ErrorAction SilentlyContinue) { $have = (& pnpm --version 2>$null) }
  if ($have -and $have.StartsWith("$major.")) { return }
  $tools = Join-Path $Root '.tmp/tools'
  $localBin = Join-Path $tools 'node_modules/.bin'
  if (Test-Path (Join-Path $localBin 'pnpm*')) {
    $env:PATH = "$localBin$([IO.Path]::PathSeparator)$env:PATH"
    return
  }
  Write-Step "Installing pnpm@$want"
  & npm install -g "pnpm@$want" *> $null
  if ($LASTEXITCODE -eq 0 -and (Get-Command pnpm -ErrorAction SilentlyContinue)) { return }
  New-Item -ItemType Directory -Force -Path $tools | Out-Null
  Invoke-Native npm @('install', '--prefix', $tools, '--no-save', '--no-audit', '--no-fund', "pnpm@$want")
  $env:PATH = "$localBin$([IO.Path]::PathSeparator)$env:PATH"
}

function Invoke-InstallAndBuild {
  Write-Step 'pnpm install --frozen-lockfile'
  Invoke-Native pnpm @('install', '--frozen-lockfile')
  Write-Step 'pnpm build'
  Invoke-Native pnpm @('build')
}

# DATABASE_URL for the integration tests: the environment's, else PostgreSQL on 127.0.0.1:5432 (user
# postgres, trust) when something listens there, else unset (testcontainers).
function Find-Database {
  if ($env:DATABASE_URL) { Write-Host 'Integration tests use DATABASE_URL from the environment.'; return }
  $client = New-Object System.Net.Sockets.TcpClient
  try {
    $ok = $client.ConnectAsync('127.0.0.1', 5432).Wait(2000)
  } catch { $ok = $false } finally { $client.Dispose() }
  if ($ok) {
    $env:DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres'
    Write-Host "Integration tests use the local PostgreSQL: $env:DATABASE_URL"
  } else {
    Write-Host 'No PostgreSQL on 127.0.0.1:5432 and no DATABASE_URL: the integration tests will try testcontainers (Docker).'
  }
}

function Test-Compose {
  $files = @('-f', (Join-Path $Root 'compose.base.yml'), '-f', (Join-Path $Root 'compose.dev.yml'))
  Invoke-Native node @((Join-Path $Root 'scripts/lib/check-compose.mjs'), (Join-Path $Root 'compose.base.yml'), (Join-Path $Root 'compose.dev.yml'))
  if (Get-Command docker-compose -ErrorAction SilentlyContinue) {
    Invoke-Native docker-compose ($files + @('config', '-q'))
    Write-Host 'docker-compose config: OK'
  } elseif (Get-Command docker -ErrorAction SilentlyContinue) {
    & docker compose version *> $null
    if ($LASTEXITCODE -eq 0) {
      Invoke-Native docker (@('compose') + $files + @('config', '-q'))
      Write-Host 'docker compose config: OK'
    }
  } else {
    Write-Host 'No docker-compose here: the compose files were parsed and checked, not validated by compose.'
  }
}
