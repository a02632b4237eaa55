/**
 * Counts the WAL frames (pages) a library's own connection writes, without
 * touching that connection: a second connection checkpoints the file
 * (TRUNCATE, so the WAL starts empty) and then holds a read transaction on
 * the empty WAL. While it does, no checkpoint can copy frames back into the
 * database and the WAL cannot restart, so every committed page stays in the
 * `-wal` file and its size counts them.
 */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';

/** The WAL header; each frame is a page plus its own 24-byte header. */
const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;

export class WalMeter {
  private readonly db: Database.Database;
  readonly pageSize: number;

  constructor(private readonly file: string) {
    this.db = new Database(file, { fileMustExist: true, timeout: 5_000 });
    this.pageSize = Number(this.db.pragma('page_size', { simple: true }));
  }

  /** Empties the WAL and pins it; call while the library is idle. */
  start(): void {
    const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number }[];
    if (result === undefined || result.busy !== 0 || this.frames() !== 0) {
      throw new Error(`could not empty the WAL of ${this.file}: ${JSON.stringify(result)}`);
    }
    this.db.exec('BEGIN');
    this.db.prepare('SELECT count(*) FROM sqlite_master').get();
  }

  /** Frames in the WAL now. */
  frames(): number {
    let bytes = 0;
    try {
      bytes = statSync(`${this.file}-wal`).size;
    } catch {
      return 0;
    }
    return bytes <= WAL_HEADER_BYTES ? 0 : (bytes - WAL_HEADER_BYTES) / (this.pageSize + FRAME_HEADER_BYTES);
  }

  /** Bytes `frames` frames take in the WAL. */
  bytes(frames: number): number {
    return frames * (this.pageSize + FRAME_HEADER_BYTES);
  }

  close(): void {
    if (this.db.inTransaction) this.db.exec('COMMIT');
    this.db.close();
  }
}
