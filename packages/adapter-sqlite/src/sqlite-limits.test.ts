import { registerGroup, validationGroup } from '@berth/conformance-tests';
import { MAX_DOCUMENT_BYTES } from '@berth/core/adapter';
import { describe, expect, it } from 'vitest';
import { SqliteBackend } from './sqlite-backend.js';

// `maxDocumentBytes` is declared in the capabilities and enforced by core's
// one rule, for documents, payloads and results alike; the validation group
// holds the backend to the declared limit.
const createBackend = (): SqliteBackend => new SqliteBackend({ filename: ':memory:', maxDocumentBytes: 4096 });

describe('sqlite with maxDocumentBytes 4096', () => {
  registerGroup(validationGroup, { name: 'sqlite-4k', createBackend, capabilities: createBackend().capabilities });

  it('declares the configured limit for documents and for job payloads', () => {
    const { capabilities } = createBackend();
    expect(capabilities.repository.maxDocumentBytes).toBe(4096);
    expect(capabilities.queue.maxPayloadBytes).toBe(4096);
    expect(new SqliteBackend({ filename: ':memory:' }).capabilities.repository.maxDocumentBytes).toBe(
      MAX_DOCUMENT_BYTES,
    );
  });

  it('refuses a limit above 16 MiB, which other adapters could not honour', () => {
    expect(() => new SqliteBackend({ filename: ':memory:', maxDocumentBytes: MAX_DOCUMENT_BYTES + 1 })).toThrow(
      /maxDocumentBytes/,
    );
  });

  it('refuses a payload and a result over the limit with VALIDATION, as core measures them', async () => {
    await using backend = createBackend();
    const queue = backend.queue<{ text: string }>('jobs');
    const text = 'é'.repeat(2100); // 4200 bytes of UTF-8, but 2100 UTF-16 code units
    await expect(queue.enqueue({ text })).rejects.toMatchObject({ code: 'VALIDATION', path: 'payload' });
    await queue.enqueue({ text: 'x' });
    const lease = await queue.dequeue();
    if (lease === null) throw new Error('no job');
    await expect(queue.complete(lease, { text })).rejects.toMatchObject({ code: 'VALIDATION', path: 'result' });
    expect((await queue.stats()).active).toBe(1);
  });
});
