/*
 * Progress while waiting, on stderr (stdout stays for the result and --json): on a terminal one line
 * redrawn in place with a bar; elsewhere (a CI log) a plain line each time the counts change.
 */

export interface ProgressCounts {
  total: number;
  settled: number;
  pending: number;
  rejected: number;
  published: number;
  percent: number;
}

export interface ProgressOutput {
  update(counts: ProgressCounts, elapsedSeconds: number): void;
  /** Ends the progress display (clears the terminal line). */
  done(): void;
}

export interface Writable {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

function clock(seconds: number): string {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function describe(c: ProgressCounts): string {
  return (
    `${c.settled}/${c.total} settled · ${c.published} published · ${c.pending} waiting for a person · ` +
    `${c.rejected} rejected · ${c.total - c.settled} in progress`
  );
}

export function progressOutput(stream: Writable): ProgressOutput {
  if (stream.isTTY) {
    let drawn = false;
    return {
      update(c, elapsed) {
        const width = 24;
        const filled = Math.round((Math.min(100, Math.max(0, c.percent)) / 100) * width);
        const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(c.percent).padStart(3)}%  ${describe(c)}  ${clock(elapsed)}`;
        const cols = stream.columns && stream.columns > 20 ? stream.columns - 1 : 200;
        stream.write(`\r\x1b[2K${line.slice(0, cols)}`);
        drawn = true;
      },
      done() {
        if (drawn) stream.write('\r\x1b[2K');
      },
    };
  }
  let last = '';
  return {
    update(c, elapsed) {
      const text = `${c.percent}% ${describe(c)}`;
      if (text === last) return;
      last = text;
      stream.write(`[${clock(elapsed)}] ${text}\n`);
    },
    done() {},
  };
}
