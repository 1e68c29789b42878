/**
 * Imported first by the agent: sizes libuv's thread pool before anything uses it. Terminal input
 * is written to ptys from the pool (a pty master blocks on write), so a few sessions whose
 * programs stop reading must not take every thread that file operations need.
 */
process.env.UV_THREADPOOL_SIZE ??= '16';
export {};
