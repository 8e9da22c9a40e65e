/**
 * Pure: every label and annotation key mcp-rewrap writes or reads, in one place.
 */
export const LABEL = {
  /** OCI: what the rewrap was made from (name as given, and the digest FROM is pinned to). */
  baseName: "org.opencontainers.image.base.name",
  baseDigest: "org.opencontainers.image.base.digest",
  source: "org.opencontainers.image.source",
  /** The mcp-rewrap version that made the image. */
  version: "io.mcp-rewrap.version",
  /** name:uid:gid the server keeps running as. */
  user: "io.mcp-rewrap.user",
  drop: "io.mcp-rewrap.drop-tool",
  /**
   * The freshness key (core/freshness.ts): equal keys make equal images. On the image config
   * of every route, and as an annotation on what a registry tag points to.
   */
  context: "io.mcp-rewrap.context",
  /** On the never-started containers the engine edge creates to read an image's files. */
  probe: "io.mcp-rewrap.probe",
} as const;

/** The label carrying the freshness key (see LABEL.context). */
export const CONTEXT_LABEL = LABEL.context;
