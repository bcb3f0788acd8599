// @ts-check
/**
 * @file `npx nx g @fewstep/tools:loss <name>`: scaffolds a fewstep loss (CONTRIBUTING.md, "Add a
 * loss"). For a new family it creates the package `packages/loss-<family>/` (package.json, README,
 * LICENSE, tsconfig.build.json, api-extractor.json, vitest.config.ts, `src/index.ts`, the module and
 * its test); in every case it writes `src/<name>-options.ts`, `src/<name>-loss.ts` (a working
 * squared-error placeholder with the equation slot in its doc comment), `src/<name>-loss.test.ts`
 * (the loss conformance suite plus a hand-computed value, closed-form gradient and finite
 * differences) and `.changeset/<name>.md`.
 *
 * Plain CommonJS with JSDoc types: nx 23 loads a local TypeScript generator through
 * `@swc-node/register` or `ts-node` (or Node's own type stripping, Node >= 22.6), and this
 * workspace runs Node 20 with neither installed.
 */
'use strict';

const path = require('node:path');
const { generateFiles, joinPathFragments, logger, names, updateJson } = require('@nx/devkit');

/**
 * Options of the generator (schema.json).
 * @typedef {object} LossGeneratorSchema
 * @property {string} name kebab-case loss name, e.g. `demo-l2` (the loss is `<family>:<name>`)
 * @property {string} [family] kebab-case family: the package `packages/loss-<family>/` (@default name)
 * @property {string} [equation] where the math comes from, e.g. 'ADM Eq. 4-6'
 * @property {string} [description] one sentence: what the loss computes
 * @property {string} [trains] the role the loss trains (@default 'generator')
 * @property {boolean} [skipChangeset] do not write `.changeset/<name>.md` (@default false)
 */

/**
 * Everything the templates and the generator need, derived from the schema.
 * @typedef {object} NormalizedLossOptions
 * @property {string} name
 * @property {string} family
 * @property {string} lossName `<family>:<name>`
 * @property {string} packageName `@fewstep/loss-<family>`
 * @property {string} packageRoot `packages/loss-<family>`
 * @property {string} packageDescription
 * @property {boolean} newPackage false when `packages/loss-<family>/package.json` already exists
 * @property {string} equation
 * @property {string} description
 * @property {string} trains
 * @property {string[]} requires
 * @property {string} className `DemoL2`
 * @property {string} propertyName `demoL2`
 * @property {string} constantName `DEMO_L2`
 * @property {string} familyPropertyName `demoL2` for the family
 * @property {string} moduleName `LossDemoL2Module`
 * @property {string} changesetName
 * @property {boolean} skipChangeset
 */

const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const ROLE = /^[a-z][A-Za-z0-9]*$/;

/**
 * Throws an error that says what was wrong, the value, what is allowed and the fix (CONTRIBUTING.md).
 * @param {string} field @param {unknown} value @param {string} allowed @param {string} fix
 * @returns {never}
 */
function invalid(field, value, allowed, fix) {
  throw new Error(`Invalid ${field}: ${JSON.stringify(value)}. Expected ${allowed}. ${fix}`);
}

/**
 * @param {import('@nx/devkit').Tree} tree
 * @param {LossGeneratorSchema} schema
 * @returns {NormalizedLossOptions}
 */
function normalizeOptions(tree, schema) {
  const name = String(schema.name ?? '').trim();
  if (!KEBAB.test(name)) invalid('name', schema.name, 'a kebab-case name such as demo-l2', 'Run: npx nx g @fewstep/tools:loss my-loss');
  if (name.startsWith('loss-')) invalid('name', name, 'the loss name without the loss- prefix', `Use ${name.slice(5)}: the package becomes packages/${name}/.`);
  const family = String(schema.family ?? name).trim();
  if (!KEBAB.test(family)) invalid('family', schema.family, 'a kebab-case family such as sdm or my-family', 'The package becomes packages/loss-<family>/.');
  const trains = String(schema.trains ?? 'generator').trim();
  if (!ROLE.test(trains)) invalid('trains', schema.trains, 'a camelCase role such as generator, fakeScore, discriminator', 'Name the role the loss updates.');
  const packageRoot = joinPathFragments('packages', `loss-${family}`);
  const n = names(name);
  const f = names(family);
  const lossName = `${family}:${name}`;
  return {
    name,
    family,
    lossName,
    packageName: `@fewstep/loss-${family}`,
    packageRoot,
    packageDescription: `The ${family} losses for fewstep (${lossName}).`,
    newPackage: !tree.exists(joinPathFragments(packageRoot, 'package.json')),
    equation: String(schema.equation ?? '').trim() || 'L = mean((pred - target)^2) (placeholder: cite the paper and equation number)',
    description: String(schema.description ?? '').trim() || `Squared error between pred and target (the scaffold of ${lossName}).`,
    trains,
    requires: trains === 'teacher' ? ['teacher'] : [trains, 'teacher'],
    className: n.className,
    propertyName: n.propertyName,
    constantName: n.constantName,
    familyPropertyName: f.propertyName,
    moduleName: `Loss${f.className}Module`,
    changesetName: name,
    skipChangeset: schema.skipChangeset === true,
  };
}

/** A single-quoted TypeScript string literal. @param {string} s */
const ts = (s) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\r?\n/g, ' ')}'`;
/** Text safe inside a block comment. @param {string} s */
const doc = (s) => s.replace(/\*\//g, '*\\/').replace(/\r?\n/g, ' ');
/** Text safe inside a Markdown table cell. @param {string} s */
const md = (s) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
/** A JSON string literal. @param {string} s */
const json = (s) => JSON.stringify(s);

/**
 * Adds the new package where the workspace lists packages by name: the root `tsconfig.build.json`
 * references (when the workspace has one) and the changesets `fixed` group (fewstep's published
 * packages version together while at 0.x).
 * @param {import('@nx/devkit').Tree} tree @param {NormalizedLossOptions} o
 */
function registerPackage(tree, o) {
  if (tree.exists('tsconfig.build.json')) {
    updateJson(tree, 'tsconfig.build.json', (cfg) => {
      if (!Array.isArray(cfg.references)) return cfg;
      const ref = `./${o.packageRoot}/tsconfig.build.json`;
      const bare = (/** @type {string} */ p) => p.replace(/^\.\//, '').replace(/\/tsconfig\.build\.json$/, '');
      if (!cfg.references.some((/** @type {{ path: string }} */ r) => bare(r.path) === o.packageRoot)) cfg.references.push({ path: ref });
      return cfg;
    });
  }
  if (tree.exists('.changeset/config.json')) {
    updateJson(tree, '.changeset/config.json', (cfg) => {
      const group = Array.isArray(cfg.fixed) ? cfg.fixed.find((/** @type {unknown} */ g) => Array.isArray(g) && g.includes('@fewstep/core')) : undefined;
      if (group && !group.includes(o.packageName)) group.push(o.packageName);
      return cfg;
    });
  }
}

/**
 * The generator.
 * @param {import('@nx/devkit').Tree} tree
 * @param {LossGeneratorSchema} schema
 * @returns {Promise<import('@nx/devkit').GeneratorCallback>}
 */
async function lossGenerator(tree, schema) {
  const o = normalizeOptions(tree, schema);
  const srcDir = joinPathFragments(o.packageRoot, 'src');
  for (const file of [`${o.name}-loss.ts`, `${o.name}-options.ts`, `${o.name}-loss.test.ts`]) {
    if (tree.exists(joinPathFragments(srcDir, file))) invalid('name', o.name, `a loss not yet in ${o.packageName}`, `${srcDir}/${file} exists: pick another name.`);
  }
  const substitutions = { ...o, requiresTs: `[${o.requires.map(ts).join(', ')}]`, ts, doc, md, json, tmpl: '' };
  const files = path.join(__dirname, 'files');
  if (o.newPackage) {
    generateFiles(tree, path.join(files, 'package'), o.packageRoot, substitutions);
    // Published packages ship the repository's licence (package.json `files`).
    const license = tree.read('LICENSE');
    if (license !== null) tree.write(joinPathFragments(o.packageRoot, 'LICENSE'), license);
    registerPackage(tree, o);
  }
  generateFiles(tree, path.join(files, 'loss'), srcDir, substitutions);
  if (!o.skipChangeset) generateFiles(tree, path.join(files, 'changeset'), '.changeset', substitutions);

  return () => {
    const steps = o.newPackage
      ? [
          `Created ${o.packageName} in ${o.packageRoot}/ with ${o.lossName}.`,
          'Next: npm install (links the new workspace package), then',
          `  npx vitest run --project loss-${o.family} --maxWorkers 1`,
          `  npm run api   (builds and writes the API report ${o.packageRoot}/api/loss-${o.family}.api.md; commit it)`,
          `  and add ${o.packageRoot} to \`published\` in scripts/pack-test.sh when the package is to be published.`,
          `Replace the placeholder math in ${srcDir}/${o.name}-loss.ts with the paper's equation (CONTRIBUTING.md, "Add a loss").`,
        ]
      : [
          `Added ${o.lossName} to ${o.packageName}.`,
          `Next: export it from ${srcDir}/index.ts:`,
          `  export { ${o.propertyName}Loss, type ${o.className}Inputs } from './${o.name}-loss.js';`,
          `  export { ${o.constantName}_DEFAULTS, validate${o.className}Options, type ${o.className}Options } from './${o.name}-options.js';`,
          `and register ${o.propertyName}Loss in the package's module (src/*.module.ts), then`,
          `  npx vitest run --project loss-${o.family} ${srcDir}/${o.name}-loss.test.ts --maxWorkers 1`,
        ];
    for (const line of steps) logger.info(line);
  };
}

module.exports = lossGenerator;
module.exports.default = lossGenerator;
module.exports.lossGenerator = lossGenerator;
module.exports.normalizeOptions = normalizeOptions;
