import { defineConfig } from 'vitest/config';

// Three tiers (ARCHITECTURE.md §Conventions 8): unit (no I/O beyond tmp dirs), integration (real HTTP
// against the emulator on loopback), e2e (a real FUSE mount, daemon in a subprocess).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000 } },
      { test: { name: 'integration', include: ['test/integration/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 } },
      {
        test: {
          name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
