/**
 * Splits a stream of UTF-8 chunks into "\n"-separated lines in time linear in the bytes, whatever a line's
 * length: each chunk is searched once, and a line that spans chunks is kept as its pieces and joined once,
 * when its end arrives. (Prepending the unfinished line to every chunk and splitting again re-scans it per
 * chunk: quadratic, minutes and hundreds of MB for a row holding a 5 MB value.)
 */
import { StringDecoder } from "node:string_decoder";

export class LineSplitter {
  private readonly decoder = new StringDecoder("utf8");
  /** The unfinished line, as the pieces it arrived in. */
  private pieces: string[] = [];

  /** The lines that `chunk` completes, in order, without their "\n". */
  push(chunk: Buffer | Uint8Array): string[] {
    const text = this.decoder.write(chunk as Buffer);
    const lines: string[] = [];
    let start = 0;
    let end = text.indexOf("\n");
    while (end !== -1) {
      const piece = text.slice(start, end);
      if (this.pieces.length > 0) {
        this.pieces.push(piece);
        lines.push(this.pieces.join(""));
        this.pieces = [];
      } else {
        lines.push(piece);
      }
      start = end + 1;
      end = text.indexOf("\n", start);
    }
    if (start < text.length) {
      this.pieces.push(text.slice(start));
    }
    return lines;
  }

  /** Ends the stream: answers what followed the last "\n" ("" when the text ended with one). */
  end(): string {
    const rest = this.decoder.end();
    if (rest !== "") this.pieces.push(rest);
    const last = this.pieces.join("");
    this.pieces = [];
    return last;
  }
}
