/**
 * Every statement sent on any pg connection of this process while `work` runs, with the connection it
 * went on: what a test counts round trips by. A COPY is its statement's text.
 */
import pg from "pg";

export interface SentStatement {
  client: pg.Client;
  text: string;
}

export async function statementsSent(work: () => Promise<void>): Promise<SentStatement[]> {
  const sent: SentStatement[] = [];
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...a: unknown[]) {
    const q = a[0] as string | { text?: string };
    sent.push({ client: this, text: typeof q === "string" ? q : (q.text ?? "") });
    return (query as (...b: unknown[]) => unknown).apply(this, a);
  } as typeof query;
  try {
    await work();
  } finally {
    pg.Client.prototype.query = query;
  }
  return sent;
}
