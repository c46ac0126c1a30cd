/**
 * A KServe v2 / Triton HTTP client: the calls tdeploy makes, over keep-alive connections (one per
 * request in flight, as perf_analyzer's HTTP client does). Failures are typed: a URL that is not
 * one and a model the server does not have are input errors (exit 2); an unreachable server, a
 * model that is not ready and any other 4xx/5xx are tool errors (exit 3) carrying the server's
 * own message.
 */
import http from 'node:http';
import https from 'node:https';
import { InputError, ToolError } from '../errors.js';
import { opt } from '../option-ref.js';

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A server base URL: http(s)://host[:port][/prefix]; `host:port` alone means http. */
export function serverUrl(text: string, key = 'server'): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new InputError(`${opt(key, text)} is not a URL`, { kind: 'usage', hint: 'e.g. http://localhost:8000' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InputError(`${opt(key, text)}: only http:// and https:// are supported (gRPC is not)`, { kind: 'usage' });
  }
  if (url.search || url.hash) throw new InputError(`${opt(key, text)}: a server URL has no query or fragment`, { kind: 'usage' });
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

/** The server's message in an error body (`{"error": "..."}`), else the body's text. */
export function serverMessage(body: Buffer): string {
  const text = body.toString('utf8').trim();
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: the text itself is the message
  }
  return text.length > 300 ? `${text.slice(0, 300)}…` : text || '(empty body)';
}

export interface ClientOptions {
  /** connections kept open: the most requests in flight */
  connections?: number;
  timeoutMs?: number;
}

export class HttpClient {
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;

  constructor(readonly base: URL, options: ClientOptions = {}) {
    const Agent = base.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: options.connections ?? 1 });
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** One request; resolves with any status, rejects only when no answer came (a ToolError). */
  send(method: 'GET' | 'POST', path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const url = new URL(this.base.href.replace(/\/+$/, '') + path);
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, {
        method, agent: this.agent, timeout: this.timeoutMs,
        headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (e) => reject(unreachable(this.base, e)));
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer in ${this.timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
      req.on('error', (e) => reject(unreachable(this.base, e)));
      req.end(body);
    });
  }

  /** A request that must succeed: a 4xx/5xx is a ToolError with the server's message. */
  async call(method: 'GET' | 'POST', path: string, body?: Buffer, headers?: Record<string, string>): Promise<HttpAnswer> {
    const answer = await this.send(method, path, body, headers);
    if (answer.status >= 400) throw statusError(method, path, answer);
    return answer;
  }

  async json<T = unknown>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const answer = await this.call(method, path, body === undefined ? undefined : Buffer.from(JSON.stringify(body)), body === undefined ? {} : { 'content-type': 'application/json' });
    if (answer.body.length === 0) return {} as T;
    try {
      return JSON.parse(answer.body.toString('utf8')) as T;
    } catch {
      throw new ToolError(`${method} ${path}: the server's answer is not JSON`, { kind: 'server' });
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

export function statusError(method: string, path: string, answer: HttpAnswer): ToolError {
  return new ToolError(`the server answered ${answer.status} to ${method} ${path}: ${serverMessage(answer.body)}`, { kind: 'server' });
}

function unreachable(base: URL, error: Error): ToolError {
  const code = (error as NodeJS.ErrnoException).code;
  const message = code && !error.message.includes(code) ? `${code} ${error.message}` : error.message;
  return new ToolError(`cannot reach the server at ${base.origin}: ${message.replace(/^connect /, '')}`, {
    kind: 'unreachable', cause: error, hint: 'is the server running, and is this its HTTP port (Triton: 8000)?',
  });
}
