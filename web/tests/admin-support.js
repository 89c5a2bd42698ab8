// What the admin and integration specs need besides support.js: a signed HL7 POST, a stand-in
// EHR MLLP listener, the embedded CRM's leads read from the connector's SQLite file, polling.
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';

/** POSTs an ER7 message to /hl7/{channel} signed with the channel's HMAC secret; the ACK text. */
export async function postHl7(server, channelId, secret, message) {
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = createHmac('sha256', secret).update(`${ts}.${message}`).digest('hex');
  const res = await fetch(`${server.url}/hl7/${channelId}`, {
    method: 'POST',
    headers: { 'content-type': 'x-application/hl7-v2+er7', 'x-connector-timestamp': ts, 'x-connector-signature': `sha256=${sig}` },
    body: message,
  });
  return { status: res.status, ack: await res.text() };
}

/** A free TCP port on loopback (nothing listens on it once this resolves). */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A stand-in EHR on `port`: answers every MLLP frame with an AA for its MSH-10 and remembers
 * the MSH-9 and MSH-10 it received. Call close() when done.
 */
export async function mllpEhr(port) {
  const received = [];
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const start = buffer.indexOf(0x0b);
        const end = buffer.indexOf(Buffer.from([0x1c, 0x0d]), start + 1);
        if (start < 0 || end < 0) break;
        const message = buffer.subarray(start + 1, end).toString('utf8');
        buffer = buffer.subarray(end + 2);
        const msh = message.split('\r')[0].split('|');
        received.push({ event: msh[8], controlId: msh[9] });
        const ack = `MSH|^~\\&|EHR|TEST|CONNECTOR|CRM|20260101000000||ACK|ACK-${msh[9]}|P|2.5\rMSA|AA|${msh[9]}\r`;
        socket.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(ack), Buffer.from([0x1c, 0x0d])]));
      }
    });
    socket.on('error', () => {});
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  // The connector keeps its MLLP connection open: close ends those too.
  const close = () =>
    new Promise((resolve) => {
      server.close(resolve);
      for (const socket of sockets) socket.destroy();
    });
  return { received, close };
}

/** The embedded CRM's leads (fields as stored) in the SQLite file of `server` (support.js). */
export function crmLeads(server) {
  const dbPath = join(server.dir, 'c.db');
  const script = 'import json,sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nprint(json.dumps([{"lead_id":r[0],"fields":json.loads(r[1])} for r in c.execute("SELECT lead_id, fields FROM crm_leads ORDER BY seq")]))';
  return JSON.parse(execFileSync('python3', ['-c', script, dbPath], { encoding: 'utf8' }));
}

/** Waits until `check()` resolves truthy (polling), or fails after `ms`. */
export async function eventually(check, ms = 15000, what = 'the condition') {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Arranges a channel `id` through the API with its HMAC key stored as the local secret
 * `<id>-hmac` (= `secret`); `extra` adds outbound / crm_webhook.
 */
export async function arrangeChannel(server, id, secret, extra = {}) {
  await server.api('PUT', `/secrets/${id}-hmac`, { value: secret });
  return server.api('PUT', `/channels/${id}`, { name: `Test channel ${id}`, inbound: { secret: `local:${id}-hmac` }, ...extra });
}
