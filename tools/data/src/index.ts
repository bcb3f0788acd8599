/**
 * @fewstep/data: datasets for teachers and recipes: exact mixture samples, synthetic teacher
 * trajectories (AccVideo's SynVid) and ODE pairs (ADP).
 */
export {
  mixtureSource,
  teacherTrajectories,
  teacherOdePairs,
  tensorSource,
  type TrajectoryOptions,
  type OdePairOptions,
} from './teacher-datasets.js';
