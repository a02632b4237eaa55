import type { CollectionCheckpoint, CopyCheckpoint } from './checkpoint.js';
import { removeCheckpoint, writeCheckpoint } from './checkpoint.js';

/** The checkpoint of a running copy: updated in memory and saved (when it has a path) after every change. */
export class CheckpointState {
  private checkpoint: CopyCheckpoint;

  constructor(
    private readonly path: string | undefined,
    initial: CopyCheckpoint,
  ) {
    this.checkpoint = initial;
  }

  collection(name: string): CollectionCheckpoint | undefined {
    return Object.hasOwn(this.checkpoint.collections, name) ? this.checkpoint.collections[name] : undefined;
  }

  queue(name: string): boolean | undefined {
    return Object.hasOwn(this.checkpoint.queues, name) ? this.checkpoint.queues[name] : undefined;
  }

  async saveCollection(name: string, progress: CollectionCheckpoint): Promise<void> {
    this.checkpoint = { ...this.checkpoint, collections: { ...this.checkpoint.collections, [name]: progress } };
    await this.save();
  }

  async saveQueue(name: string, done: boolean): Promise<void> {
    this.checkpoint = { ...this.checkpoint, queues: { ...this.checkpoint.queues, [name]: done } };
    await this.save();
  }

  async remove(): Promise<void> {
    if (this.path !== undefined) await removeCheckpoint(this.path);
  }

  private async save(): Promise<void> {
    if (this.path !== undefined) await writeCheckpoint(this.path, this.checkpoint);
  }
}
