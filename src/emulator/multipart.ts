// A streaming multipart/form-data parser (RFC 7578) with bounded memory: push() chunks, parts are
// delivered through onPart (headers) → sink.write(data) → sink.end(). Text fields are collected by the
// caller's sink; file parts go straight to disk. Memory held: at most one chunk plus the boundary.
// Invariant: a part's data never includes the CRLF that precedes the next boundary delimiter.

export interface PartInfo {
  name: string;
  filename?: string;
  contentType?: string;
}
export interface PartSink {
  write(data: Buffer): void;
  end(): void;
}

export class MultipartError extends Error {}

export function boundaryOf(contentType: string | undefined): string {
  const m = /^multipart\/form-data\s*;.*?boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  const b = m?.[1] ?? m?.[2];
  if (!b) throw new MultipartError('not multipart/form-data with a boundary');
  return b;
}

type State = 'preamble' | 'headers' | 'body' | 'done';

export class MultipartParser {
  private buf: Buffer = Buffer.alloc(0);
  private state: State = 'preamble';
  private sink: PartSink | undefined;
  private readonly first: Buffer;
  private readonly delim: Buffer;

  constructor(
    boundary: string,
    private readonly onPart: (info: PartInfo) => PartSink,
  ) {
    this.first = Buffer.from(`--${boundary}`);
    this.delim = Buffer.from(`\r\n--${boundary}`);
  }

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.state === 'done') {
        this.buf = Buffer.alloc(0);
        return;
      }
      if (this.state === 'preamble' && !this.preamble()) return;
      if (this.state === 'headers' && !this.headers()) return;
      if (this.state === 'body' && !this.body()) return;
    }
  }

  end(): void {
    if (this.state !== 'done') throw new MultipartError('multipart body ended early');
  }

  private preamble(): boolean {
    const i = this.buf.indexOf(this.first);
    if (i < 0) {
      if (this.buf.length > 64 * 1024) throw new MultipartError('no boundary');
      return false;
    }
    return this.afterDelimiter(i + this.first.length);
  }

  /** After a delimiter: "--" ends the body, CRLF starts a part. */
  private afterDelimiter(at: number): boolean {
    if (this.buf.length < at + 2) {
      this.buf = this.buf.subarray(at - this.first.length);
      return false;
    }
    const two = this.buf.subarray(at, at + 2).toString('latin1');
    if (two === '--') {
      this.state = 'done';
      return true;
    }
    if (two !== '\r\n') throw new MultipartError('bad delimiter');
    this.buf = this.buf.subarray(at + 2);
    this.state = 'headers';
    return true;
  }

  private headers(): boolean {
    const i = this.buf.indexOf('\r\n\r\n');
    if (i < 0) {
      if (this.buf.length > 16 * 1024) throw new MultipartError('part headers too large');
      return false;
    }
    const lines = this.buf.subarray(0, i).toString('utf8').split('\r\n');
    this.buf = this.buf.subarray(i + 4);
    const info: Partial<PartInfo> = {};
    for (const line of lines) {
      const [k, ...rest] = line.split(':');
      const v = rest.join(':').trim();
      if (k!.trim().toLowerCase() === 'content-disposition') {
        info.name = /\bname="([^"]*)"/i.exec(v)?.[1];
        const fn = /\bfilename="([^"]*)"/i.exec(v)?.[1];
        if (fn !== undefined) info.filename = fn;
      } else if (k!.trim().toLowerCase() === 'content-type') info.contentType = v;
    }
    if (info.name === undefined) throw new MultipartError('part without a name');
    this.sink = this.onPart(info as PartInfo);
    this.state = 'body';
    return true;
  }

  private body(): boolean {
    const i = this.buf.indexOf(this.delim);
    if (i < 0) {
      const keep = Math.min(this.buf.length, this.delim.length - 1);
      const emit = this.buf.length - keep;
      if (emit > 0) this.sink!.write(this.buf.subarray(0, emit));
      this.buf = this.buf.subarray(emit);
      return false;
    }
    if (i > 0) this.sink!.write(this.buf.subarray(0, i));
    this.sink!.end();
    this.sink = undefined;
    // Re-base so afterDelimiter sees the "--boundary" at the same offset as in the preamble.
    this.buf = this.buf.subarray(i + 2);
    this.state = 'preamble';
    return this.afterDelimiter(this.first.length);
  }
}
