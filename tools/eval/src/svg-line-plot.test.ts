import { describe, expect, it } from 'vitest';
import { linePlotSvg } from './svg-line-plot.js';
import { renderHtmlReport } from './html-report.js';

describe('linePlotSvg', () => {
  it('draws one polyline per series through every finite point, with labels and a legend', () => {
    const svg = linePlotSvg(
      [
        { name: 'loss', points: [[1, 1], [2, 0.5], [3, 0.25], [4, Number.NaN]] },
        { name: 'ema <b>', points: [[1, 0.8], [4, 0.3]] },
      ],
      { title: 'Loss', xLabel: 'step', yLabel: 'value', logY: true },
    );
    const lines = [...svg.matchAll(/<polyline[^>]*points="([^"]*)"/g)].map((m) => m[1]!.split(' ').length);
    expect(lines).toEqual([3, 2]);
    expect(svg).toContain('>Loss</text>');
    expect(svg).toContain('value (log)');
    expect(svg).toContain('ema &lt;b&gt;');
    // x from 1 to 4 maps onto [left margin, width - right margin].
    const first = svg.match(/points="([\d.]+),/)![1];
    expect(Number(first)).toBe(64);
  });
});

describe('renderHtmlReport', () => {
  it('renders tables, figures and escapes text', () => {
    const html = renderHtmlReport('A & B', [
      { kind: 'table', title: 'T', table: { columns: ['a', 'b'], rows: [['x<y', 0.123456], ['z', 3]] } },
      { kind: 'figure', title: 'F', svg: '<svg></svg>', caption: 'c' },
    ]);
    expect(html).toContain('<title>A &amp; B</title>');
    expect(html).toContain('<td>x&lt;y</td><td>0.1235</td>');
    expect(html).toContain('<td>3</td>');
    expect(html).toContain('<figure><svg></svg><figcaption>c</figcaption></figure>');
  });
});
