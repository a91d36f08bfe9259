// A minimal Server-Sent Events client over fetch, for tests of the live stream (GET /api/v1/stream).

export interface SseEvent {
  event: string;
  id?: string;
  data: any;
  at: number;
}

/** A minimal SSE client over fetch: collects events, can be closed, remembers the last id. */
export function sse(url: string, headers: Record<string, string>) {
  const events: SseEvent[] = [];
  const controller = new AbortController();
  let comments = 0;
  const done = (async () => {
    const res = await fetch(url, { headers, signal: controller.signal });
    if (!res.ok) throw new Error(`stream ${res.status}`);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const fields: Record<string, string> = {};
        for (const line of frame.split('\n')) {
          if (line.startsWith(':')) comments++;
          const m = /^(\w+): ?(.*)$/.exec(line);
          if (m) fields[m[1]!] = m[2]!;
        }
        if (fields.event) events.push({ event: fields.event, id: fields.id, data: JSON.parse(fields.data ?? 'null'), at: Date.now() });
      }
    }
  })().catch(() => undefined);
  return { events, close: () => controller.abort(), done, comments: () => comments };
}
