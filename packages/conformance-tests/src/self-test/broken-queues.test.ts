import { describe, expect, it } from 'vitest';
import { runGroup } from '../harness.js';
import { queueGroups } from '../queue-suite.js';
import { BrokenQueueBackend, brokenQueues } from './broken-queues.js';

// The queue suite proves it can fail: each deliberately broken queue must be
// rejected by the group named beside it.
describe('the suite rejects broken queues', () => {
  for (const broken of brokenQueues) {
    it(`group "${broken.group}" rejects a queue that ${broken.name}`, async () => {
      const group = queueGroups.find((candidate) => candidate.name === broken.group);
      if (group === undefined) throw new Error(`no group named ${broken.group}`);
      const results = await runGroup(group, {
        name: broken.name,
        createBackend: () => new BrokenQueueBackend(broken.overrides),
        capabilities: new BrokenQueueBackend(broken.overrides).capabilities,
      });
      const failed = results.filter((result) => !result.passed).map((result) => result.name);
      expect(failed.length, `no case of "${broken.group}" failed`).toBeGreaterThan(0);
      if (broken.rejectedBy !== undefined) expect(failed).toContain(broken.rejectedBy);
    }, 120_000);
  }
});
