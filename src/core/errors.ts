/**
 * Exit codes, documented in the README:
 *   0  success
 *   1  the check ran and found a problem (verify failed, scan found affected servers)
 *   2  usage: a bad option, argument or input file
 *   3  runtime: the engine, an image, a build or a registry failed, or the machine (a full disk)
 *   4  scan: nothing found affected, but some servers could not be judged (unknown)
 */
export const EXIT = { ok: 0, problem: 1, usage: 2, runtime: 3, unknown: 4 } as const;

export class UsageError extends Error {
  readonly exitCode = EXIT.usage;
}

export class RuntimeError extends Error {
  readonly exitCode = EXIT.runtime;
}

/** A rewrap that cannot or should not be made for this image (a property of the image). */
export class PlanError extends Error {
  readonly exitCode = EXIT.problem;
}
