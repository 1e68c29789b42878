import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// The tests run the sources, and a worker thread cannot: the recording worker is the built one.
const shared = { testTimeout: 60_000, hookTimeout: 60_000, env: { CMDOP_RECORDING_WORKER: resolve('dist/src/agent/recordings/worker.js') } };

export default defineConfig({
  test: {
    // Fails the run at once, naming the package, when a Debian program the suite runs is missing.
    globalSetup: ['test/helpers/packages.ts'],
    // Integration tests spawn processes and ptys; two workers match the two cores CI has.
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'main', include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/browser/**/*.test.ts'], exclude: ['test/browser/console-files.test.ts', 'test/integration/files-big.test.ts', 'test/integration/openssh-big.test.ts', 'test/integration/files-cli.test.ts', 'test/integration/binary.test.ts', 'test/integration/binaries-all.test.ts'], sequence: { groupOrder: 0 } } },
      // The 2 GiB transfers, the 192 MiB kill-and-resume and the 256 MiB browser round trip load both cores: they run after everything else, so
      // that they neither disturb nor are disturbed by the tests with latency bounds.
      { test: { ...shared, name: 'heavy', include: ['test/browser/console-files.test.ts', 'test/integration/files-big.test.ts', 'test/integration/openssh-big.test.ts', 'test/integration/files-cli.test.ts', 'test/integration/binaries-all.test.ts'], sequence: { groupOrder: 1 } } },
      // After the five-platform build (which it reuses), so that two workers never build the same binary at once.
      { test: { ...shared, name: 'binary', include: ['test/integration/binary.test.ts'], sequence: { groupOrder: 2 } } },
    ],
  },
});
