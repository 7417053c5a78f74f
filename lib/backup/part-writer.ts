/**
 * Builds one compressed table file in memory, a page at a time: bounded by the part size, never a whole
 * table. The SHA-256 is of the stored (compressed) bytes, so a restore can check a file before reading it.
 */
import { createHash } from "node:crypto";
import type { Transform } from "node:stream";
import type { RowsText } from "./lines.ts";

export class PartWriter {
  private readonly chunks: Buffer[] = [];
  private readonly hash = createHash("sha256");
  private compressed = 0;
  /** Uncompressed bytes written so far. */
  rawBytes = 0;
  rows = 0;
  private readonly ended: Promise<void>;

  /** `stream`: the compressing stream the file is written through (zstd for new files). */
  constructor(private readonly stream: Transform) {
    this.stream.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.hash.update(chunk);
      this.compressed += chunk.length;
    });
    this.ended = new Promise((resolve, reject) => {
      this.stream.on("end", resolve);
      this.stream.on("error", reject);
    });
  }

  /** Adds rows, as the text they make. */
  async write(text: RowsText): Promise<void> {
    this.rawBytes += text.bytes;
    this.rows += text.rows;
    for (const part of text.parts) {
      if (!this.stream.write(part)) await new Promise((resolve) => this.stream.once("drain", resolve));
    }
  }

  async finish(): Promise<{ data: Buffer; sha256: string; bytes: number }> {
    this.stream.end();
    await this.ended;
    const data = Buffer.concat(this.chunks, this.compressed);
    return { data, sha256: this.hash.digest("hex"), bytes: this.compressed };
  }
}
