import { describe, expect, it } from 'vitest';
import { csvCell, csvLine, csvSecretCell, parseCsv } from '../../api/csv.js';

describe('csvCell', () => {
  it('writes text that a spreadsheet would run as a formula with a leading quote', () => {
    for (const text of ['=1+2', '+1', '-A1', '@SUM(A1)', '\t=1', '\r=1']) expect(parseCsv(csvCell(text))[0]![0]).toBe(`'${text}`);
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe('"\'=HYPERLINK(""http://x"",""y"")"');
    expect(csvCell('Karang Mumus')).toBe('Karang Mumus');
    expect(csvCell('a=b')).toBe('a=b');
  });

  it('writes numbers as they are, and nothing for null', () => {
    expect(csvLine([-0.5, 117.1, 0, null, undefined, '-'])).toBe("-0.5,117.1,0,,,'-");
  });

  it('writes a generated secret exactly, and anything else as an ordinary cell', () => {
    expect(csvSecretCell('-Ab_9')).toBe('-Ab_9');
    expect(csvSecretCell('=1+2')).toBe("'=1+2");
  });
});
