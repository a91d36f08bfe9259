// Running from TypeScript sources (tests, `tsx`): a worker thread does not inherit the main thread's loader, so
// this entry registers tsx's loader in the writer's thread and then loads the writer. The compiled build uses
// writer-worker.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./writer-worker.ts');
