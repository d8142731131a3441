import { describe, expect, it } from 'vitest';

// .ci/run sets SPM_EXPECT_NODE_MAJOR=24 for its second pass: this proves the suite really ran there.
describe('test runtime', () => {
  it('runs on the Node.js major the CI pass asked for', () => {
    const want = process.env.SPM_EXPECT_NODE_MAJOR;
    console.log(`test runtime: Node ${process.version}`);
    if (want) expect(process.versions.node.split('.')[0]).toBe(want);
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(20);
  });
});
