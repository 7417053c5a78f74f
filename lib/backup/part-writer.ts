/**
 * Builds one compressed table file in memory, a page at a time: bounded by the part size, never a whole
 * table. The SHA-256 is of the stored (gzip) bytes, so a restore can check a file before reading it.
 */
import { createHash } from "node:crypto";
import { createGzip, type Gzip } from "node:zlib";

export class PartWriter {
  private readonly gzip: Gzip;
  private readonly chunks: Buffer[] = [];
  private readonly hash = createHash("sha256");
  private compressed = 0;
  /** Uncompressed bytes written so far. */
  rawBytes = 0;
  rows = 0;
  private readonly ended: Promise<void>;

  constructor(level = 6) {
    this.gzip = createGzip({ level });
    this.gzip.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.hash.update(chunk);
      this.compressed += chunk.length;
    });
    this.ended = new Promise((resolve, reject) => {
      this.gzip.on("end", resolve);
      this.gzip.on("error", reject);
    });
  }

  /** Adds rows, one line each (without "\n"). */
  async write(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const text = `${lines.join("\n")}\n`;
    this.rawBytes += Buffer.byteLength(text);
    this.rows += lines.length;
    if (!this.gzip.write(text)) await new Promise((resolve) => this.gzip.once("drain", resolve));
  }

  async finish(): Promise<{ data: Buffer; sha256: string; bytes: number }> {
    this.gzip.end();
    await this.ended;
    const data = Buffer.concat(this.chunks, this.compressed);
    return { data, sha256: this.hash.digest("hex"), bytes: this.compressed };
  }
}
