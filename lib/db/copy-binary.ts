/**
 * Reads COPY's binary format for a select of one column: each value's bytes come out exactly as the server
 * sent them, followed by "\n". Unlike the text and CSV formats, nothing is escaped on either side, so a
 * value holding many lines (an undo point's page) passes through as it is stored, in the pieces it arrived
 * in, without being copied or searched.
 *
 * The format (PostgreSQL's COPY documentation, "Binary Format"): an 11-byte signature, 32-bit flags, a
 * 32-bit length and that many bytes of header extension; then per row a 16-bit field count and each field
 * as a 32-bit length (-1 for NULL) and its bytes; a field count of -1 ends the data. Integers are big-endian.
 */
import { Transform, type TransformCallback } from "node:stream";

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
const NEWLINE = Buffer.from("\n");
/** Bit 16 of the flags: each row carries an OID (WITH OIDS, gone since PostgreSQL 12). */
const HAS_OIDS = 1 << 16;

type Part = "header" | "extension" | "count" | "length" | "value" | "end";

/** A Transform from a binary COPY stream of one non-null column to its values, each followed by "\n". */
export function binaryCopyValues(options: { highWaterMark?: number } = {}): Transform {
  return new BinaryCopyValues(options.highWaterMark);
}

class BinaryCopyValues extends Transform {
  private part: Part = "header";
  /** The fixed-size part being read (header, field count or length), as far as it has arrived. */
  private readonly fixed = Buffer.alloc(SIGNATURE.length + 8);
  private have = 0;
  private want = SIGNATURE.length + 8;
  /** Bytes of the header extension or of the value still to come. */
  private left = 0;

  constructor(highWaterMark?: number) {
    super(highWaterMark === undefined ? {} : { readableHighWaterMark: highWaterMark });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      let at = 0;
      while (at < chunk.length) {
        if (this.part === "end") throw new Error("binary COPY data after its end");
        if (this.part === "value" || this.part === "extension") {
          const n = Math.min(this.left, chunk.length - at);
          if (this.part === "value") this.push(chunk.subarray(at, at + n));
          at += n;
          this.left -= n;
          if (this.left === 0) this.afterRun();
          continue;
        }
        const n = Math.min(this.want - this.have, chunk.length - at);
        chunk.copy(this.fixed, this.have, at, at + n);
        this.have += n;
        at += n;
        if (this.have === this.want) this.afterFixed();
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    done(this.part === "end" ? null : new Error("binary COPY data ended before its end"));
  }

  private expect(part: Part, bytes: number): void {
    this.part = part;
    this.have = 0;
    this.want = bytes;
  }

  /** A value or the header extension has been passed or skipped whole. */
  private afterRun(): void {
    if (this.part === "value") this.push(NEWLINE);
    this.expect("count", 2);
  }

  private afterFixed(): void {
    const fixed = this.fixed;
    switch (this.part) {
      case "header": {
        if (!fixed.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error("not binary COPY data");
        if (fixed.readInt32BE(SIGNATURE.length) & HAS_OIDS) throw new Error("binary COPY data with OIDs");
        this.left = fixed.readInt32BE(SIGNATURE.length + 4);
        if (this.left < 0) throw new Error("binary COPY header extension of negative length");
        if (this.left === 0) this.expect("count", 2);
        else this.part = "extension";
        return;
      }
      case "count": {
        const count = fixed.readInt16BE(0);
        if (count === -1) this.expect("end", 0);
        else if (count !== 1) throw new Error(`binary COPY row of ${count} fields, 1 expected`);
        else this.expect("length", 4);
        return;
      }
      case "length": {
        const length = fixed.readInt32BE(0);
        if (length < 0) throw new Error("binary COPY value is NULL");
        this.left = length;
        this.part = "value";
        if (length === 0) this.afterRun();
        return;
      }
      default:
        throw new Error(`binary COPY reader in part ${this.part}`);
    }
  }
}
