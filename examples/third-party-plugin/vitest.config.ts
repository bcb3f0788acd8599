// The repo's shared project config (tfjs aliased to the CommonJS bundles Node loads, fewstep's
// packages resolved to their TypeScript sources). Outside the fewstep repo, see README.md
// ("Testing") for the standalone equivalent.
import { fewstepProject } from '../../vitest.shared.js';

export default fewstepProject('third-party-plugin');
