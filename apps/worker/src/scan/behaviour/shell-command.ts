import { commandName, parseScript } from '../shell.js';
import { DOWNLOADERS, INTERPRETERS } from '../install-code.js';
import type { RuleId } from './rules.js';

const SYSTEM_PROXIES = new Set([
  'regsvr32',
  'rundll32',
  'mshta',
  'installutil',
  'regasm',
  'msiexec',
  'wmic',
  'cscript',
  'wscript',
]);
const POWERSHELL_DOWNLOAD =
  /DownloadString|DownloadFile|DownloadData|Invoke-WebRequest|\biwr\b|Invoke-RestMethod|\birm\b|Net\.WebClient|Start-BitsTransfer/i;
const POWERSHELL_EXEC = /\bIEX\b|Invoke-Expression|Start-Process|\|\s*iex\b/i;

/**
 * What a command line (a string handed to exec, a batch or shell script) does that matters: a
 * download piped into or followed by running what was downloaded, a download alone, encoded
 * PowerShell, or Windows binaries that load DLLs and scripts (regsvr32, rundll32, mshta …).
 */
export function commandFindings(script: string): Array<{ rule: RuleId; detail: string }> {
  const out: Array<{ rule: RuleId; detail: string }> = [];
  const text = script.slice(0, 20_000);
  let download = false;
  let exec = false;
  let proxy: string | null = null;
  let encoded = false;
  const lines = text.split(/\r?\n/);
  for (const line of lines) {
    if (/^\s*(@?echo|rem\b|::|#)/i.test(line)) continue;
    for (const p of parseScript(line)) {
      const names = p.commands.map((c) => commandName(c[0] ?? ''));
      const dl = names.findIndex((n) => DOWNLOADERS.has(n) || (n === 'certutil' && /urlcache/i.test(line)));
      if (dl >= 0) {
        download = true;
        if (names.slice(dl + 1).some((n) => INTERPRETERS.has(n))) exec = true;
      }
      for (const cmd of p.commands) {
        const n = commandName(cmd[0] ?? '');
        if (SYSTEM_PROXIES.has(n)) proxy = n;
        if ((n === 'powershell' || n === 'pwsh') && cmd.some((a) => /^-e(nc(odedcommand)?)?$/i.test(a))) encoded = true;
        // After a download, running a file: `chmod +x f; ./f`, `start f.exe`.
        if (download && (n === 'chmod' || /^\.{1,2}\//.test(cmd[0] ?? '') || n === 'start')) exec = true;
        if (INTERPRETERS.has(n) && cmd.some((a) => /\$\(|`/.test(a) && /curl|wget/.test(a))) {
          download = true;
          exec = true;
        }
      }
    }
  }
  if (POWERSHELL_DOWNLOAD.test(text)) {
    download = true;
    if (POWERSHELL_EXEC.test(text)) exec = true;
  }
  if (download && (exec || proxy)) out.push({ rule: 'download-exec', detail: `downloads and runs: ${oneLine(text)}` });
  else if (download) out.push({ rule: 'shell-download', detail: `downloads: ${oneLine(text)}` });
  if (encoded) out.push({ rule: 'hidden-command', detail: 'encoded PowerShell command' });
  if (proxy && !(download && exec))
    out.push({ rule: 'hidden-command', detail: `${proxy} loads code through a system binary` });
  return out;
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 120 ? `${t.slice(0, 119)}…` : t;
}
