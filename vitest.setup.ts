// Loaded before every test file (see vitest.shared.ts).
import 'reflect-metadata';
// What @fewstep/core's entry does for users: register tfjs's gradient functions.
import './packages/core/src/engine/register-gradients.js';
