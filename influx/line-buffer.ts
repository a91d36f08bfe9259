// Line protocol written straight into bytes: one growing buffer reused for every record, instead of a string per
// point joined and then encoded again. The text is the same as `line()` (line-protocol.ts) writes; ingest appends
// the finished bytes to the log as one record.

const DEFAULT_BYTES = 64 * 1024;
/** A buffer grown past this by one large record is given back when the next record starts. */
const KEEP_BYTES = 4 * 1024 * 1024;
const NEWLINE = 10;
const MINUS = 45;
const ZERO = 48;
const DOT = 46;

export class LineBuffer {
  private buf = Buffer.allocUnsafe(DEFAULT_BYTES);
  length = 0;

  /** The bytes written so far (a view: valid until the next write or reset). */
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  reset(): void {
    this.length = 0;
    if (this.buf.length > KEEP_BYTES) this.buf = Buffer.allocUnsafe(DEFAULT_BYTES);
  }

  /** Start a new line: a newline between lines, none before the first or after the last. */
  newLine(): void {
    if (this.length > 0) this.byte(NEWLINE);
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.length++] = b;
  }

  bytes(b: Buffer): void {
    this.room(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }

  /** Text in UTF-8 (any string). */
  text(s: string): void {
    this.room(s.length * 3);
    this.length += this.buf.write(s, this.length, 'utf8');
  }

  /** A safe integer in decimal, as `String(n)` writes it. */
  integer(n: number): void {
    this.room(17);
    if (n < 0) {
      this.buf[this.length++] = MINUS;
      n = -n;
    }
    // in two halves below 10^8, so the digit loop runs on small integers (timestamps have 13 digits)
    if (n >= 1e8) {
      const high = Math.floor(n / 1e8);
      this.digits(high, 0);
      this.digits(n - high * 1e8, 8);
    } else {
      this.digits(n, 0);
    }
  }

  /** `n` (below 10^8) in decimal, left-padded with zeros to `width` digits. */
  private digits(n: number, width: number): void {
    let count = 1;
    for (let x = n; x >= 10; x = (x / 10) | 0) count++;
    if (count < width) count = width;
    const buf = this.buf;
    let at = this.length + count;
    this.length = at;
    for (let k = 0; k < count; k++) {
      const q = (n / 10) | 0;
      buf[--at] = ZERO + (n - q * 10);
      n = q;
    }
  }

  /** A float field value as `floatField` writes it (`String(value)`); the caller has checked it is finite. */
  float(value: number): void {
    if (Number.isSafeInteger(value)) {
      this.integer(value);
      return;
    }
    // A value of at most three decimals (what sensors send: 27.5, 0.35, -1.125) in integer arithmetic, without a
    // string. When round(v × 1000) / 1000 is v, the decimal with those digits parses to v (both are the one double
    // nearest the same fraction), and below 10^12 no other decimal of three places does, so it is also the
    // shortest text that gives v back: what String(v) writes.
    if (value > -1e12 && value < 1e12) {
      const scaled = Math.round(value * 1000);
      if (scaled / 1000 === value) {
        this.thousandths(scaled);
        return;
      }
    }
    // a number's text is ASCII: copied by hand, cheaper for a few characters than a call into the encoder
    const text = String(value);
    this.room(text.length);
    const buf = this.buf;
    for (let i = 0; i < text.length; i++) buf[this.length++] = text.charCodeAt(i);
  }

  /** `scaled` / 1000 in decimal (`scaled` not a multiple of 1000), without trailing zeros. */
  private thousandths(scaled: number): void {
    this.room(20);
    if (scaled < 0) {
      this.buf[this.length++] = MINUS;
      scaled = -scaled;
    }
    const whole = Math.floor(scaled / 1000);
    const fraction = scaled - whole * 1000;
    this.integer(whole);
    this.buf[this.length++] = DOT;
    if (fraction % 100 === 0) this.digits(fraction / 100, 1);
    else if (fraction % 10 === 0) this.digits(fraction / 10, 2);
    else this.digits(fraction, 3);
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
}
