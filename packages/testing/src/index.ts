export { expectTensorsClose, expectNoLeak, type CloseOptions } from './tensors.js';
export { mulberry32, seededNormal, seededNormalValues, seededUniform } from './fixtures.js';
export { finiteDifferenceCheck, type GradCheckOptions } from './grad-check.js';
export { describeLossConformance, type ConformingLoss, type LossConformanceCase } from './loss-conformance.js';
export { expectMatchesCpu, withGrads, type ParityOptions } from './backend-parity.js';
