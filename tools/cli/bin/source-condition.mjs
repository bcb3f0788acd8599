// Module resolve hook for the checkout's dev bin (registered by ./fewstep.js with `module.register`):
// every import resolves with the `@fewstep/source` export condition, so the workspace packages load
// their TypeScript sources (`exports["."]["@fewstep/source"]`) instead of the `dist/` a build makes.
// The same as starting Node with `--conditions=@fewstep/source`, but set from inside the process.
const CONDITION = '@fewstep/source';

export async function resolve(specifier, context, nextResolve) {
  const conditions = context.conditions ?? [];
  return nextResolve(specifier, conditions.includes(CONDITION) ? context : { ...context, conditions: [CONDITION, ...conditions] });
}
