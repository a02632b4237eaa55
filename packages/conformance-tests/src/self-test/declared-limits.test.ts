import { MemoryBackend } from '@berth/adapter-memory';
import { describe, expect, it } from 'vitest';
import { validationGroup } from '../groups/validation-group.js';
import { registerGroup, runGroup } from '../harness.js';

// A backend that declares a lower limit is held to it: the validation group
// reads the limit from the capabilities instead of assuming 16 MiB.
const lowLimit = (): MemoryBackend => new MemoryBackend({ maxDocumentBytes: 4096, maxPayloadBytes: 2048 });

describe('memory with a declared 4 KiB document limit', () => {
  registerGroup(validationGroup, { name: 'memory-4k', createBackend: lowLimit, capabilities: lowLimit().capabilities });
});

describe('the declared limit', () => {
  it('is what MemoryBackend declares and enforces', () => {
    expect(lowLimit().capabilities.repository.maxDocumentBytes).toBe(4096);
    expect(lowLimit().capabilities.queue.maxPayloadBytes).toBe(2048);
    expect(new MemoryBackend().capabilities.repository.maxDocumentBytes).toBe(16 * 1024 * 1024);
  });

  it('cannot exceed 16 MiB or be anything but a positive integer', () => {
    for (const maxDocumentBytes of [16 * 1024 * 1024 + 1, 0, -1, 1.5, Number.NaN, '4096']) {
      expect(() => new MemoryBackend({ maxDocumentBytes: maxDocumentBytes as number })).toThrow(/maxDocumentBytes/);
    }
  });

  it('is checked by the suite: an adapter declaring 4 KiB but storing 16 MiB documents is rejected', async () => {
    const results = await runGroup(validationGroup, {
      name: 'claims-4k',
      createBackend: () => new MemoryBackend(),
      capabilities: lowLimit().capabilities,
    });
    const failed = results.filter((result) => !result.passed).map((result) => result.name);
    expect(failed).toStrictEqual([expect.stringContaining('maxDocumentBytes')]);
  }, 120_000);
});
