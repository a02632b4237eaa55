import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@berth/source'] },
  ssr: { resolve: { conditions: ['@berth/source'] } },
  // One local Ceph gateway for every test file of the run (it takes ~12 s to start).
  // Bucket creation waits while the cluster settles a gateway process that a test stopped: hooks get a minute.
  test: {
    name: 'adapter-s3-document',
    globalSetup: ['src/fixtures/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
