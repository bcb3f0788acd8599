import { fewstepProject } from '../../vitest.shared.js';

export default fewstepProject('nx-plugin');
