import { describe, expect, it } from 'vitest';
import { runGroup } from '../harness.js';
import { repositoryGroups } from '../repository-suite.js';
import { brokenAdapters } from './broken-adapters.js';
import { BrokenBackend } from './broken-backend.js';
import { brokenLifecycleAdapters } from './broken-lifecycle-adapters.js';

// The suite proves it can fail: each deliberately broken adapter must be
// rejected by the group named beside it.
describe('the suite rejects broken adapters', () => {
  for (const broken of [...brokenAdapters, ...brokenLifecycleAdapters]) {
    it(`group "${broken.group}" rejects an adapter that ${broken.name}`, async () => {
      const group = repositoryGroups.find((candidate) => candidate.name === broken.group);
      if (group === undefined) throw new Error(`no group named ${broken.group}`);
      const backend = new BrokenBackend(broken.breakage);
      const results = await runGroup(group, {
        name: broken.name,
        createBackend: () => new BrokenBackend(broken.breakage),
        capabilities: backend.capabilities,
      });
      const failed = results.filter((result) => !result.passed).map((result) => result.name);
      expect(failed.length, `no case of "${broken.group}" failed`).toBeGreaterThan(0);
      // Some name the case written to catch them, which must be among the failures.
      if ('case' in broken && typeof broken.case === 'string') {
        expect(failed, `the case about "${broken.case}" let it pass`).toContainEqual(
          expect.stringContaining(broken.case),
        );
      }
    }, 120_000);
  }
});
