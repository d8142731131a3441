import { createInterface } from 'node:readline';
import { run } from './cli.js';
import type { Io } from './commands.js';

/** Asks on the terminal; for a secret, nothing typed is echoed. */
function prompt(question: string, secret: boolean): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (secret) {
      const output = rl as unknown as { _writeToOutput?: (s: string) => void };
      let asked = false;
      output._writeToOutput = (s: string) => {
        if (!asked) {
          process.stderr.write(s);
          asked = true;
        }
      };
    }
    rl.question(question, (answer) => {
      rl.close();
      if (secret) process.stderr.write('\n');
      resolve(answer);
    });
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const io: Io = {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  readStdin,
  ...(process.stdin.isTTY ? { prompt } : {}),
};

process.exitCode = await run(process.argv.slice(2), io);
