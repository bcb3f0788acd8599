export interface ReportTable {
  columns: string[];
  rows: Array<Array<string | number>>;
}

export type ReportSection =
  | { kind: 'text'; title?: string; html: string }
  | { kind: 'table'; title: string; table: ReportTable; note?: string }
  | { kind: 'figure'; title: string; svg?: string; pngBase64?: string; caption?: string }
  | { kind: 'figures'; title: string; items: Array<{ label: string; pngBase64: string; /** @default 'image/png' (animated: 'image/gif') */ mime?: string }>; caption?: string };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function cell(v: string | number): string {
  return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : esc(v);
}

/** A single self-contained HTML page (inline CSS, SVG and base64 PNG): no network, opens anywhere. */
export function renderHtmlReport(title: string, sections: readonly ReportSection[]): string {
  const body = sections
    .map((s) => {
      switch (s.kind) {
        case 'text':
          return `${s.title ? `<h2>${esc(s.title)}</h2>` : ''}${s.html}`;
        case 'table':
          return (
            `<h2>${esc(s.title)}</h2><table><thead><tr>${s.table.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>` +
            s.table.rows.map((r) => `<tr>${r.map((v) => `<td>${cell(v)}</td>`).join('')}</tr>`).join('') +
            `</tbody></table>${s.note ? `<p class="note">${s.note}</p>` : ''}`
          );
        case 'figure':
          return (
            `<h2>${esc(s.title)}</h2><figure>${s.svg ?? ''}${s.pngBase64 ? `<img src="data:image/png;base64,${s.pngBase64}">` : ''}` +
            `${s.caption ? `<figcaption>${s.caption}</figcaption>` : ''}</figure>`
          );
        case 'figures':
          return (
            `<h2>${esc(s.title)}</h2><div class="grid">` +
            s.items.map((it) => `<figure><figcaption>${esc(it.label)}</figcaption><img src="data:${it.mime ?? 'image/png'};base64,${it.pngBase64}"></figure>`).join('') +
            `</div>${s.caption ? `<p class="note">${s.caption}</p>` : ''}`
          );
      }
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0; } th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f3f3f3; }
.grid { display: flex; flex-wrap: wrap; gap: 16px; } figure { margin: 0.5rem 0; } figcaption { font-size: 0.9rem; color: #555; margin-bottom: 4px; }
img { image-rendering: pixelated; } .note { color: #555; font-size: 0.9rem; } code { background: #f3f3f3; padding: 1px 4px; }
</style></head>
<body><h1>${esc(title)}</h1>
${body}
</body></html>
`;
}
