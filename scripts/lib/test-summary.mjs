// Totals vitest JSON reports (--reporter=json) into one closing line:
//   "<label>: N passed, N failed, N skipped"
// Usage: node scripts/lib/test-summary.mjs <label> <report.json>...  A missing or unreadable report
// (the run died before writing it) counts as one failure, so the line never overstates a run.
import { readFileSync } from 'node:fs';

const [label, ...files] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of files) {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + (r.numTodoTests ?? 0);
    // A test file that failed to load has no tests to count but is a failure.
    failed += (r.testResults ?? []).filter((t) => t.status === 'failed' && t.assertionResults.length === 0).length;
  } catch {
    process.stderr.write(`(no test report at ${file}: counted as a failure)\n`);
    failed += 1;
  }
}
process.stdout.write(`\n${label}: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
