// CSV as RFC 4180 writes it: comma-separated, fields with a comma, quote or line break quoted, quotes doubled.
// Every CSV the API writes (fleet export, readings, open-data export, the import's answer) goes through csvCell.

/** Rows of a CSV text; each row an array of cells. Throws with the line of the first malformed quote. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a byte-order mark from spreadsheet exports
  const endRow = () => {
    row.push(cell);
    // blank lines (a trailing newline, an empty line between records) are not rows
    if (!(row.length === 1 && row[0] === '')) rows.push(row);
    row = [];
    cell = '';
  };
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        cell += c;
      }
      continue;
    }
    if (c === '"') {
      if (cell !== '') throw new Error(`line ${line}: a quote inside an unquoted cell; quote the whole cell and double inner quotes`);
      quoted = true;
    } else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
    } else {
      cell += c;
    }
  }
  if (quoted) throw new Error(`line ${line}: a quoted cell is not closed`);
  if (cell !== '' || row.length > 0) endRow();
  return rows;
}

/**
 * One RFC 4180 cell: quoted when it holds a comma, quote or line break, quotes doubled. A text starting with `=`, `+`,
 * `-`, `@`, a tab or a carriage return would be run as a formula by a spreadsheet that opens the file (a device named
 * `=HYPERLINK(…)` in the fleet export, OWASP "CSV injection"), so it is written with a leading `'`, which spreadsheets
 * show as text. Numbers are written as they are: a negative latitude stays a number.
 */
export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'number' ? String(value) : FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A secret Pantau generated (base64url: letters, digits, `-`, `_`) as a cell, exactly as it is: a token changed by
 * a leading `'` would no longer work when copied into a device, and its alphabet has no parentheses, quotes or
 * operators to build a formula call from (at worst a spreadsheet shows `#NAME?` for one starting with `-`).
 * Anything else is an ordinary, defused cell.
 */
export function csvSecretCell(secret: string): string {
  return /^[A-Za-z0-9_-]+$/.test(secret) ? secret : csvCell(secret);
}

export function csvLine(values: Array<string | number | null | undefined>): string {
  return values.map(csvCell).join(',');
}

/** True when the client asked for CSV (Accept: text/csv before any JSON). */
export function wantsCsv(accept: string | undefined): boolean {
  if (!accept) return false;
  return /\btext\/csv\b/i.test(accept) && !/\bapplication\/json\b/i.test(accept.split(',')[0] ?? '');
}
