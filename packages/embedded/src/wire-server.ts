import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;

/** Frontend messages after which the client waits for an answer: Sync, simple Query, Flush. */
const BATCH_END = new Set(['S'.charCodeAt(0), 'Q'.charCodeAt(0), 'H'.charCodeAt(0)]);
const TERMINATE = 'X'.charCodeAt(0);

/** A simple-protocol `ROLLBACK`, sent when a client disconnects inside a transaction. */
const ROLLBACK = (() => {
  const text = Buffer.from('ROLLBACK\0');
  const msg = Buffer.alloc(5 + text.length);
  msg.write('Q', 0);
  msg.writeInt32BE(4 + text.length, 1);
  text.copy(msg, 5);
  return msg;
})();

interface Connection {
  id: number;
  socket: Socket;
  buffer: Buffer;
  started: boolean;
  closed: boolean;
}

interface Batch {
  conn: Connection;
  /** Complete frontend messages, ending with Sync/Query/Flush (or the startup packet). */
  data: Buffer;
  /** The client is gone: roll back what it left open. */
  cleanup?: boolean;
}

export interface WireServerOptions {
  host: string;
  port: number;
  maxConnections: number;
  onError?: (err: Error) => void;
}

/**
 * Serves one PGlite instance to many PostgreSQL wire-protocol clients.
 *
 * PGlite is a single backend, so the connections take turns. The unit of a turn is a whole protocol
 * exchange: every message a client sends up to and including its Sync (extended protocol), Query
 * (simple protocol) or Flush. @electric-sql/pglite-socket 0.2.17 interleaves single messages of
 * different clients, so one client's Bind can land on another client's unnamed statement
 * ("unnamed prepared statement does not exist" under concurrent pg pools); batching avoids that.
 * While a client has a transaction open, only that client's batches run, and when it disconnects its
 * transaction is rolled back.
 */
export class WireServer {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private queue: Batch[] = [];
  private owner: Connection | null = null;
  private pumping = false;
  private nextId = 1;

  constructor(
    private readonly db: PGlite,
    private readonly opts: WireServerOptions,
  ) {
    this.server = createServer((socket) => this.accept(socket));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops accepting connections, closes the open ones and waits for the batch in progress. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) c.socket.destroy();
    await closed;
    while (this.pumping) await new Promise((r) => setTimeout(r, 10));
  }

  private accept(socket: Socket): void {
    if (this.connections.size >= this.opts.maxConnections) {
      socket.end(errorResponse('53300', `too many connections (limit ${this.opts.maxConnections})`));
      return;
    }
    socket.setNoDelay(true);
    const conn: Connection = { id: this.nextId++, socket, buffer: Buffer.alloc(0), started: false, closed: false };
    this.connections.add(conn);
    socket.on('data', (chunk) => this.receive(conn, chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.disconnect(conn));
  }

  private receive(conn: Connection, chunk: Buffer): void {
    conn.buffer = conn.buffer.length ? Buffer.concat([conn.buffer, chunk]) : chunk;
    let pending: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const rest = conn.buffer.length - offset;
      if (!conn.started) {
        if (rest < 8) break;
        const len = conn.buffer.readInt32BE(offset);
        if (rest < len) break;
        const code = conn.buffer.readInt32BE(offset + 4);
        const packet = conn.buffer.subarray(offset, offset + len);
        offset += len;
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          conn.socket.write('N');
        } else if (code === CANCEL_REQUEST) {
          // Queries cannot be interrupted inside PGlite; the client's connection carries on.
          conn.socket.end();
          return;
        } else if (code === PROTOCOL_3) {
          conn.started = true;
          this.enqueue({ conn, data: Buffer.from(packet) });
        } else {
          conn.socket.end(errorResponse('08P01', `unsupported frontend protocol ${code >>> 16}.${code & 0xffff}`));
          return;
        }
        continue;
      }
      if (rest < 5) break;
      const type = conn.buffer[offset]!;
      const len = 1 + conn.buffer.readInt32BE(offset + 1);
      if (rest < len) break;
      const msg = conn.buffer.subarray(offset, offset + len);
      offset += len;
      if (type === TERMINATE) {
        conn.socket.end();
        break;
      }
      pending.push(msg);
      if (BATCH_END.has(type)) {
        this.enqueue({ conn, data: Buffer.concat(pending) });
        pending = [];
      }
    }
    // Keep incomplete messages, and complete ones whose batch has not ended yet, for the next chunk.
    const consumed = offset - pending.reduce((n, m) => n + m.length, 0);
    conn.buffer = Buffer.from(conn.buffer.subarray(consumed));
  }

  private disconnect(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    this.connections.delete(conn);
    this.queue = this.queue.filter((b) => b.conn !== conn);
    if (conn.started) this.enqueue({ conn, data: ROLLBACK, cleanup: true });
  }

  private enqueue(batch: Batch): void {
    this.queue.push(batch);
    void this.pump();
  }

  private next(): Batch | undefined {
    if (this.owner && this.db.isInTransaction()) {
      const i = this.queue.findIndex((b) => b.conn === this.owner);
      return i === -1 ? undefined : this.queue.splice(i, 1)[0];
    }
    this.owner = null;
    return this.queue.shift();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let batch = this.next(); batch; batch = this.next()) {
        const { conn } = batch;
        if (batch.cleanup) {
          if (this.owner === conn && this.db.isInTransaction()) await this.run(batch.data, () => undefined);
          if (this.owner === conn) this.owner = null;
          continue;
        }
        if (conn.closed) continue;
        try {
          await this.run(batch.data, (out) => {
            if (!conn.closed && conn.socket.writable) conn.socket.write(out);
          });
        } catch (err) {
          this.opts.onError?.(err as Error);
          conn.socket.destroy();
        }
        this.owner = this.db.isInTransaction() ? conn : null;
      }
    } finally {
      this.pumping = false;
    }
  }

  private run(data: Buffer, onData: (out: Uint8Array) => void): Promise<void> {
    return this.db.runExclusive(() =>
      this.db.execProtocolRawStream(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), {
        onRawData: (out) => onData(Buffer.from(out)),
      }),
    );
  }
}

/** A backend ErrorResponse, for refusing a connection before it reaches PGlite. */
function errorResponse(sqlstate: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${sqlstate}\0M${message}\0\0`);
  const msg = Buffer.alloc(5 + fields.length);
  msg.write('E', 0);
  msg.writeInt32BE(4 + fields.length, 1);
  fields.copy(msg, 5);
  return msg;
}
