/**
 * Orchestration shared by the commands (not a command itself): where facts come from, the plan
 * with the user's options, the rendered context and its freshness key. Commands import this
 * and routes.ts; they never import each other.
 */
import { checkImageRef } from "../core/reference.js";
import type { ImageFacts } from "../core/facts.js";
import { contextKeyOf, type RewrapInputs } from "../core/freshness.js";
import { PlanError } from "../core/errors.js";
import { type PlanOptions, type RewrapPlan, onBuildProblem, planRewrap } from "../core/plan.js";
import type { RenderedFile } from "../core/render.js";
import { stableJson } from "../core/stable-json.js";
import type { Progress } from "../edge/engine.js";
import { engineFacts, fileFacts } from "../edge/facts-source.js";
import { templates } from "../edge/fs.js";
import { PROJECT_URL, VERSION } from "../edge/version.js";

export type { Progress };

export interface CommonOptions {
  pull?: boolean;
  progress: Progress;
  /** A recorded facts file to use instead of the engine. */
  facts?: string;
}

export interface RewrapOptions extends CommonOptions {
  env?: string[];
  tag?: string;
  force?: boolean;
  out?: string;
}

/** An image's facts: from the --facts file when given, else from the engine. */
export async function getFacts(ref: string, opts: CommonOptions): Promise<ImageFacts> {
  checkImageRef(ref);
  const source = opts.facts ? fileFacts(opts.facts) : engineFacts({ pull: opts.pull, progress: opts.progress });
  return source.facts(ref);
}

export function planFor(facts: ImageFacts, opts: Pick<RewrapOptions, "env" | "tag" | "force">): RewrapPlan {
  const planOpts: PlanOptions = {
    version: VERSION,
    projectUrl: PROJECT_URL,
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.tag ? { tag: opts.tag } : {}),
    ...(opts.force ? { force: true } : {}),
  };
  return planRewrap(facts, planOpts);
}

/** The options that go into the freshness key. */
export function inputsOf(opts: RewrapInputs): RewrapInputs {
  return { env: opts.env, force: opts.force };
}

/** The freshness key of a plan made with these options. */
export function keyFor(plan: RewrapPlan, opts: RewrapInputs): string {
  return contextKeyOf(plan, inputsOf(opts), templates());
}

/**
 * The build context (Dockerfile, shim, plan) plus the facts it was made from. The renderer
 * (handlebars) loads on the first call: a build whose tag is up to date never renders.
 */
export async function renderFiles(plan: RewrapPlan, facts: ImageFacts, opts: RewrapInputs): Promise<RenderedFile[]> {
  // A context is for a build FROM the image: its ONBUILD triggers would run (the registry route has none).
  const onBuild = onBuildProblem(facts);
  if (onBuild) throw new PlanError(onBuild);
  const { dockerfileProblem, renderContext } = await import("../core/render.js");
  const files = renderContext(plan, templates(), keyFor(plan, opts));
  const unreadable = dockerfileProblem(files.find((f) => f.path === "Dockerfile")!.content);
  if (unreadable) throw new PlanError(unreadable);
  return [...files, { path: "facts.json", content: stableJson(facts), mode: 0o644 }];
}
