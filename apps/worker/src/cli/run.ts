import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Runs `main` with the command-line arguments and exits with its code, but only when the module at
 * `moduleUrl` is the script node was started with (tests import the same module and call `main`).
 */
export function runIfEntryPoint(moduleUrl: string, main: (argv: string[]) => Promise<number>): void {
  let entry = false;
  try {
    entry = !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    entry = false;
  }
  if (entry) void main(process.argv.slice(2)).then((code) => process.exit(code));
}
