/**
 * Every statement sent on any pg connection of this process while `work` runs, with the connection it
 * went on: what a test counts round trips by. A COPY is its statement's text.
 */
import pg from "pg";

export interface SentStatement {
  client: pg.Client;
  text: string;
  /**
   * How many of the statements sent before it had been answered when it was sent: two with the same count
   * were sent side by side. A COPY's statement answers as a stream, and is never counted as answered.
   */
  answeredBefore: number;
}

export async function statementsSent(work: () => Promise<void>): Promise<SentStatement[]> {
  const sent: SentStatement[] = [];
  let answered = 0;
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...a: unknown[]) {
    const q = a[0] as string | { text?: string };
    sent.push({ client: this, text: typeof q === "string" ? q : (q.text ?? ""), answeredBefore: answered });
    const answer = (query as (...b: unknown[]) => unknown).apply(this, a);
    if (answer instanceof Promise) {
      answer.then(
        () => answered++,
        () => answered++,
      );
    }
    return answer;
  } as typeof query;
  try {
    await work();
  } finally {
    pg.Client.prototype.query = query;
  }
  return sent;
}
