/**
 * A TCP relay that holds every piece of data for half a round trip in each direction: the bench's stand-in
 * for the network between a function and Supabase's database, so that the fanout section measures what
 * round trips cost there instead of estimating it. Pieces leave in the order they came, each the same time
 * later (timers of one duration fire in the order they were set).
 */
import net from "node:net";

export interface LatencyProxy {
  /** The address to connect to instead of the target's. */
  port: number;
  close(): Promise<void>;
}

export async function startLatencyProxy(targetPort: number, roundTripMs: number): Promise<LatencyProxy> {
  const oneWay = roundTripMs / 2;
  const sockets = new Set<net.Socket>();
  const relay = (from: net.Socket, to: net.Socket) => {
    from.on("data", (piece) => setTimeout(() => to.write(piece), oneWay));
    // Ended after the data still held, so that nothing sent before the end is lost.
    from.on("end", () => setTimeout(() => to.end(), oneWay));
    from.on("error", () => to.destroy());
    from.on("close", () => setTimeout(() => to.destroy(), oneWay));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    }
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
