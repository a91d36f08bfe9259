// The InfluxDB client's `/write` (node:http with kept-alive connections, bodies as bytes): against the real influxd
// of the global setup, and against plain TCP servers that misbehave the ways a network does.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { InfluxClient, InfluxRefusedError, InfluxUnavailableError } from '../influx/client.js';
import { countLines, joinLines } from '../ingest/influx-writer.js';
import { influxQuery } from './support/influxd.js';
import { freePort } from './support/ports.js';

describe('InfluxClient writes', () => {
  const db = `client_${randomBytes(4).toString('hex')}`;
  let influx: InfluxClient;

  beforeAll(async () => {
    influx = new InfluxClient({ url: inject('influxUrl'), database: db });
    await influx.createDatabase();
  });

  it('stores a body given as bytes exactly as a string body, UTF-8 included', async () => {
    const records = [Buffer.from('air,device_id=a pm25=12.5 1700000000000'), Buffer.from('air,device_id=ä\\ b pm25=7 1700000000000\nair,device_id=a pm25=13 1700000001000')];
    const body = joinLines(records);
    expect(countLines(body)).toBe(3);
    await influx.write(body);
    await influx.write('air,device_id=c pm25=1 1700000000000');
    const series = await influx.query('SELECT pm25 FROM air GROUP BY device_id');
    const got = Object.fromEntries(series.map((s) => [s.tags!.device_id, s.values.map((v) => v[1])]));
    expect(got).toEqual({ a: [12.5, 13], 'ä b': [7], c: [1] });
  });

  it('a refused body is an InfluxRefusedError with InfluxDB\'s reason, and the next write works', async () => {
    const err = await influx.write(Buffer.from('air,device_id=a pm25= 1700000000000')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfluxRefusedError);
    expect((err as InfluxRefusedError).status).toBe(400);
    expect((err as Error).message).toMatch(/unable to parse|invalid/i);
    await influx.write(Buffer.from('air,device_id=d pm25=4 1700000000000'));
    expect(await influxQuery(inject('influxUrl'), db, `SELECT count(pm25) FROM air WHERE device_id = 'd'`)).toMatchObject([{ values: [[expect.anything(), 1]] }]);
  });

  it('several statements in one query: the series of each, in order, each with its own bound range; one refused statement refuses the query', async () => {
    await influx.write('air,device_id=m pm25=1 1700000000000\nair,device_id=m pm25=2 1700000060000\nair,device_id=m pm25=3 1700000120000\nair,device_id=n pm25=9 1700000000000');
    const at = (ms: number) => new Date(ms).toISOString();
    const [first, empty, last] = await influx.queryEach(
      [
        'SELECT pm25 FROM air WHERE device_id = $device AND time >= $from0 AND time < $to0',
        'SELECT pm25 FROM air WHERE device_id = $device AND time >= $from1 AND time < $to1',
        'SELECT sum(pm25) FROM air WHERE device_id = $device AND time >= $from2 AND time < $to2',
      ],
      { device: 'm', from0: at(1700000000000), to0: at(1700000060000), from1: at(1600000000000), to1: at(1600000060000), from2: at(1700000060000), to2: at(1700000180000) },
    );
    expect(first!.map((s) => s.values)).toEqual([[[1700000000000, 1]]]);
    expect(empty).toEqual([]);
    expect(last![0]!.values[0]![1]).toBe(5);
    const err = await influx.queryEach(['SELECT pm25 FROM air', 'SELECT nope( FROM air']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfluxRefusedError);
    await expect(influx.queryEach(['SELECT pm25 FROM air; DROP DATABASE x'])).rejects.toThrow('one statement per query');
  });

  it('200 writes in a row reuse kept-alive connections', async () => {
    for (let i = 0; i < 200; i++) await influx.write(Buffer.from(`loop,device_id=k n=${i} ${1700000000000 + i}`));
    const series = await influx.query('SELECT count(n) FROM loop');
    expect(series[0]!.values[0]![1]).toBe(200);
  });
});

describe('InfluxClient writes when the network misbehaves', () => {
  const servers: net.Server[] = [];
  const listen = async (onConnection: (socket: net.Socket) => void): Promise<string> => {
    const port = await freePort();
    const server = net.createServer(onConnection);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return `http://pantau:s3cret@127.0.0.1:${port}`;
  };
  afterAll(() => {
    for (const s of servers) s.close();
  });

  it('nobody listening: InfluxUnavailableError naming the cause, without the password', async () => {
    const port = await freePort();
    const client = new InfluxClient({ url: `http://pantau:s3cret@127.0.0.1:${port}`, database: 'x' });
    const err = await client.write(Buffer.from('a v=1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfluxUnavailableError);
    expect((err as Error).message).toContain('ECONNREFUSED');
    expect((err as Error).message).not.toContain('s3cret');
  });

  it('a server that reads and never answers: InfluxUnavailableError after the time-out, not a hang', async () => {
    const url = await listen((socket) => socket.on('data', () => undefined));
    const client = new InfluxClient({ url, database: 'x', timeoutMs: 300 });
    const started = Date.now();
    const err = await client.write(Buffer.alloc(100_000, 0x61)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfluxUnavailableError);
    expect((err as Error).message).toContain('TimeoutError');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('a 503 is InfluxUnavailableError (retry later), a 413 InfluxRefusedError', async () => {
    let status = 503;
    const url = await listen((socket) =>
      socket.once('data', () => socket.end(`HTTP/1.1 ${status} X\r\ncontent-type: application/json\r\ncontent-length: 17\r\nconnection: close\r\n\r\n{"error":"busy!"}`)),
    );
    const client = new InfluxClient({ url, database: 'x' });
    await expect(client.write(Buffer.from('a v=1'))).rejects.toThrow(InfluxUnavailableError);
    status = 413;
    const err = await client.write('a v=1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfluxRefusedError);
    expect((err as InfluxRefusedError).status).toBe(413);
    expect((err as Error).message).toBe('busy!');
  });

  it('a kept-alive connection the server closed while idle: the write goes through on a new one', async () => {
    let connections = 0;
    let requests = 0;
    const url = await listen((socket) => {
      connections++;
      let seen = '';
      socket.on('data', (chunk) => {
        seen += chunk.toString('latin1');
        if (!seen.includes('a v=1')) return;
        seen = '';
        requests++;
        // the first connection answers, keeps the connection, then drops it without a FIN as the client reuses it
        if (connections === 1 && requests === 2) socket.resetAndDestroy();
        else socket.write('HTTP/1.1 204 No Content\r\nconnection: keep-alive\r\n\r\n');
      });
    });
    const client = new InfluxClient({ url, database: 'x' });
    await client.write(Buffer.from('a v=1'));
    await client.write(Buffer.from('a v=1'));
    expect(requests).toBe(3);
    expect(connections).toBe(2);
  });
});
