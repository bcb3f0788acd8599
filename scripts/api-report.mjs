#!/usr/bin/env node
/**
 * API reports of the published packages (API Extractor, one process for all of them).
 *
 *   node scripts/api-report.mjs           CI: fail when a package's public surface differs from its
 *                                         committed report `<package>/api/<name>.api.md` (prints the diff)
 *   node scripts/api-report.mjs --local   update the committed reports (commit them with the change)
 *   ... [name ...]                        only these packages (`core`, `loss-sdm`, ...)
 *
 * Input: each package's built declarations (`dist/index.d.ts`: run `npm run build` first; the npm
 * scripts `api` / `api:check` do). Settings: `api-extractor.base.json` (extended by every package's
 * `api-extractor.json`).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { Extractor, ExtractorConfig, ExtractorLogLevel } = require('@microsoft/api-extractor');

const args = process.argv.slice(2);
const local = args.includes('--local');
const only = args.filter((a) => !a.startsWith('--'));

/** Workspace packages with an api-extractor.json (the published ones). */
function packages() {
  const found = [];
  for (const group of ['packages', 'tools']) {
    for (const name of readdirSync(join(root, group)).sort()) {
      const dir = join(root, group, name);
      if (existsSync(join(dir, 'api-extractor.json'))) found.push(dir);
    }
  }
  return found;
}

let failed = 0;
const selected = packages().filter((dir) => only.length === 0 || only.includes(dir.split('/').pop()));
if (only.length > 0 && selected.length !== only.length) {
  console.error(`unknown package in ${only.join(', ')}`);
  process.exit(2);
}
for (const dir of selected) {
  const pkgName = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name;
  const rel = relative(root, dir);
  if (!existsSync(join(dir, 'dist/index.d.ts'))) {
    console.error(`${pkgName}: ${rel}/dist/index.d.ts is missing; run \`npm run build\` first`);
    failed++;
    continue;
  }
  mkdirSync(join(dir, 'api'), { recursive: true });
  const configObjectFullPath = join(dir, 'api-extractor.json');
  const config = ExtractorConfig.prepare({
    configObject: ExtractorConfig.loadFile(configObjectFullPath),
    configObjectFullPath,
    packageJsonFullPath: join(dir, 'package.json'),
  });
  const messages = [];
  const result = Extractor.invoke(config, {
    localBuild: local,
    printApiReportDiff: !local,
    messageCallback: (m) => {
      if (m.logLevel === ExtractorLogLevel.Error || m.logLevel === ExtractorLogLevel.Warning) {
        messages.push(`  ${m.logLevel}: ${m.sourceFilePath ? `${relative(root, m.sourceFilePath)}:${m.sourceFileLine}: ` : ''}(${m.messageId}) ${m.text}`);
        m.handled = true;
      } else if (m.logLevel !== ExtractorLogLevel.Verbose && m.logLevel !== ExtractorLogLevel.None) {
        m.handled = true; // "Analysis will use the bundled TypeScript version ..." and the like
      }
    },
  });
  const report = `${rel}/api/${pkgName.split('/').pop()}.api.md`;
  if (result.succeeded) {
    console.log(`${pkgName}: ${result.apiReportChanged ? `updated ${report}` : `matches ${report}`}`);
  } else {
    failed++;
    console.error(`${pkgName}: ${result.apiReportChanged ? `public API differs from ${report}` : 'API Extractor reported problems'} (${result.errorCount} errors, ${result.warningCount} warnings)`);
    for (const line of messages) console.error(line);
    if (result.apiReportChanged && !local) console.error(`  If the change is intended: npm run api (updates ${report}), then commit the report with a changeset.`);
  }
}
if (failed > 0) {
  console.error(`\n${failed} package(s) failed the API report check.`);
  process.exit(1);
}
