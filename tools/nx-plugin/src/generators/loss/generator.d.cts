import type { GeneratorCallback, Tree } from '@nx/devkit';

declare namespace lossGenerator {
  /** Options of `npx nx g @fewstep/tools:loss` (schema.json). */
  interface LossGeneratorSchema {
    name: string;
    family?: string;
    equation?: string;
    description?: string;
    trains?: string;
    skipChangeset?: boolean;
  }

  /** What the templates get (see generator.cjs). */
  interface NormalizedLossOptions {
    name: string;
    family: string;
    lossName: string;
    packageName: string;
    packageRoot: string;
    packageDescription: string;
    newPackage: boolean;
    equation: string;
    description: string;
    trains: string;
    requires: string[];
    className: string;
    propertyName: string;
    constantName: string;
    familyPropertyName: string;
    moduleName: string;
    changesetName: string;
    skipChangeset: boolean;
  }

  function normalizeOptions(tree: Tree, schema: LossGeneratorSchema): NormalizedLossOptions;
}

/** Scaffolds a fewstep loss (package, options, loss, conformance test, module, changeset). */
declare function lossGenerator(tree: Tree, schema: lossGenerator.LossGeneratorSchema): Promise<GeneratorCallback>;

export = lossGenerator;
