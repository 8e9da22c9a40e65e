/**
 * Pure: the OCI image format as mcp-rewrap uses it (media types, manifests, indexes, configs).
 */
import { createHash } from "node:crypto";
import type { ContainerConfigFields } from "./facts.js";

export const MEDIA = {
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

export const isIndex = (mediaType: string | undefined): boolean => mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerList;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageConfigBlob {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: ContainerConfigFields & { [k: string]: unknown };
  rootfs?: { type: string; diff_ids: string[] };
  history?: Record<string, unknown>[];
  [k: string]: unknown;
}

export const sha256 = (data: Buffer | string): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** The runnable images of an index: attestation manifests (buildx provenance/SBOM, platform unknown/unknown) are left out. */
export function runnableManifests(index: ImageIndex): Descriptor[] {
  return index.manifests.filter(
    (m) => m.platform && m.platform.os !== "unknown" && m.platform.architecture !== "unknown" && !m.annotations?.["vnd.docker.reference.type"],
  );
}

/** Media types of the family the source uses (Docker schema 2 or OCI). */
export function mediaFamily(manifestType: string): { manifest: string; index: string; config: string; layer: string } {
  return manifestType === MEDIA.dockerManifest || manifestType === MEDIA.dockerList
    ? { manifest: MEDIA.dockerManifest, index: MEDIA.dockerList, config: MEDIA.dockerConfig, layer: MEDIA.dockerLayerGzip }
    : { manifest: MEDIA.ociManifest, index: MEDIA.ociIndex, config: MEDIA.ociConfig, layer: MEDIA.ociLayerGzip };
}
