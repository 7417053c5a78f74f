/**
 * Rows of a few hundred bytes each, converted from one text format to the other (copy-text.ts,
 * line-to-copy-text.ts), are written one after the other into a shared slab, each followed by "\n": a
 * buffer per row would cost an allocation each, and lib/backup/lines.ts's textParts hands on consecutive
 * rows written this way as one piece, uncopied. A row that could outgrow a slab's share gets a buffer of
 * its own instead.
 */
const NEWLINE = 0x0a;
/** Bytes of a slab; a row that could take over a quarter of one gets its own buffer. */
const SLAB_BYTES = 1024 * 1024;
let slab = Buffer.allocUnsafe(0);
let slabAt = 0;

/**
 * The row `write` makes of `input`, written into the buffer it is given at the offset it is given
 * (answering where the row ends), which has room for `most` bytes; a row of its own is sized by `exact`
 * when given. Plain functions of the input, not closures: this runs once per row.
 */
export function slabRow<T>(
  input: T,
  most: number,
  write: (input: T, out: Buffer, at: number) => number,
  exact?: (input: T) => number,
): Buffer {
  if (most > SLAB_BYTES / 4) {
    const out = Buffer.allocUnsafe(exact ? exact(input) : most);
    return out.subarray(0, write(input, out, 0));
  }
  if (slab.length - slabAt < most + 1) {
    slab = Buffer.allocUnsafe(SLAB_BYTES);
    slabAt = 0;
  }
  const start = slabAt;
  const end = write(input, slab, start);
  slab[end] = NEWLINE;
  slabAt = end + 1;
  return slab.subarray(start, end);
}
