import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@berth/source'] },
  ssr: { resolve: { conditions: ['@berth/source'] } },
  test: {
    name: 'cli',
    // The S3 document backend's private Ceph gateway (~12 s to start), shared by every test file of the run.
    globalSetup: ['../adapter-s3-document/src/fixtures/global-setup.ts'],
    // Every test spawns the CLI (about a second of start-up each) against real engines.
    testTimeout: 90_000,
    hookTimeout: 60_000,
  },
});
