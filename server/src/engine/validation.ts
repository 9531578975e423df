// Where the shipped data's schemas are checked. The rule cards, models and cache kinds are validated when the
// scan (or the language server) loads them on the main thread, before any worker is sent a catalog or a file
// (workers may already be starting: scanPaths warms them first, then validates, then sends the catalog). A
// worker reads the same files again and would only compile the same schemas again: about 400 ms of each
// worker's start-up, for an answer already known. So workers skip that step; the main thread never does.
import { isMainThread } from 'node:worker_threads';

export const CHECKS_SHIPPED_SCHEMAS = isMainThread;
