import { describe, expect, it } from "vitest";
import { PlanError, UsageError } from "../../src/core/errors.js";
import { SHIM_COMMANDS } from "../../src/core/facts.js";
import {
  DEFAULT_ENV_VARS,
  SHIM_PATH,
  checkEnvName,
  findDropTool,
  HEALTH_PATH,
  inheritsConfig,
  isRewrapBuild,
  layersOn,
  localBaseProblem,
  localBaseTag,
  missingCommands,
  onBuildProblem,
  planRewrap,
  shortId,
} from "../../src/core/plan.js";
import { LABEL } from "../../src/core/labels.js";
import { rewrapTag } from "../../src/core/reference.js";

const defaultTag = (ref: string, id: string) => rewrapTag(ref, { id });
import { KUBE_DIGEST, KUBE_ID, OPTS, busyboxFacts, kubernetesFacts, presentPaths, rootFacts, shimCommandsIn } from "./fixtures.js";

/** The thrown error, so its class and message can both be checked. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a throw, got none");
}

describe("planRewrap on mcp/kubernetes", () => {
  const plan = planRewrap(kubernetesFacts(), OPTS);

  it("puts the shim before the original entrypoint and restates CMD", () => {
    expect(plan.shimPath).toBe(SHIM_PATH);
    expect(plan.entrypoint).toEqual([SHIM_PATH, "docker-entrypoint.sh"]);
    expect(plan.cmd).toEqual(["node", "dist/index.js"]);
  });

  it("pins FROM to the repository digest", () => {
    expect(plan.source).toEqual({
      ref: "mcp/kubernetes",
      name: "kubernetes",
      id: KUBE_ID,
      digest: KUBE_DIGEST,
      from: `mcp/kubernetes@${KUBE_DIGEST}`,
      pinnedById: false,
      platform: "linux/amd64",
    });
  });

  it("keeps the image's user and picks setpriv", () => {
    expect(plan.user).toMatchObject({ name: "appuser", uid: 1001, gid: 1001, groups: [1001], home: "/home/appuser" });
    expect(plan.drop).toEqual({ kind: "setpriv", path: "/usr/bin/setpriv" });
  });

  it("labels base name, base digest, source, version, user and drop tool", () => {
    expect(plan.labels).toEqual({
      [LABEL.baseName]: "mcp/kubernetes:latest",
      [LABEL.baseDigest]: KUBE_DIGEST,
      [LABEL.source]: OPTS.projectUrl,
      [LABEL.version]: OPTS.version,
      [LABEL.user]: "appuser:1001:1001",
      [LABEL.drop]: "setpriv",
    });
    expect(plan.tool).toEqual({ name: "mcp-rewrap", version: OPTS.version });
  });

  it("defaults to mcp-rewrap/kubernetes:latest, outside mcp/", () => {
    expect(plan.tag).toBe("mcp-rewrap/kubernetes:latest");
    expect(plan.tag.startsWith("mcp/")).toBe(false);
    expect(plan.name).toBe("kubernetes");
  });

  it("refuses a tag under mcp/ on Docker Hub by any of its names, and only there", () => {
    for (const tag of ["mcp/x", "docker.io/mcp/x:1", "index.docker.io/mcp/x", "registry-1.docker.io/mcp/x:latest"]) {
      expect(() => planRewrap(kubernetesFacts(), { ...OPTS, tag }), tag).toThrow(/gateways refuse local images under mcp\//);
    }
    expect(planRewrap(kubernetesFacts(), { ...OPTS, tag: "ghcr.io/mcp/x:1" }).tag).toBe("ghcr.io/mcp/x:1");
  });

  it("prepares the default variables and bakes in no list of mounts (the shim reads what is mounted)", () => {
    expect(plan.envVars).toEqual(DEFAULT_ENV_VARS);
    expect(plan).not.toHaveProperty("mounts");
  });

  it("keeps a null CMD null and an absent ENTRYPOINT as the shim alone", () => {
    const f = kubernetesFacts();
    f.config.entrypoint = null;
    f.config.cmd = [];
    const p = planRewrap(f, OPTS);
    expect(p.entrypoint).toEqual([SHIM_PATH]);
    expect(p.cmd).toBeNull();
  });
});

describe("planRewrap: source pinning and tags", () => {
  it("a local image (no digest in its repository): FROM its name and tag (BuildKit cannot resolve sha256:<id>), labelled local", () => {
    const f = kubernetesFacts();
    f.repoDigests = [];
    const p = planRewrap(f, OPTS);
    expect(p.source).toMatchObject({ from: "mcp/kubernetes:latest", pinnedById: false, digest: null });
    expect(p.labels[LABEL.baseDigest]).toBe(KUBE_ID);
    expect(p.labels[LABEL.baseLocal]).toBe("true");
    expect(planRewrap(kubernetesFacts(), OPTS).labels[LABEL.baseLocal]).toBeUndefined();
  });

  it("pins by image ID only when the user gave an image ID and no repository has a digest", () => {
    const f = kubernetesFacts();
    f.repoDigests = [];
    f.ref = KUBE_ID;
    const p = planRewrap(f, OPTS);
    expect(p.source).toMatchObject({ from: KUBE_ID, pinnedById: true, digest: null });
  });

  it("picks the digest of the repository that was named", () => {
    const f = kubernetesFacts();
    const other = `sha256:${"1".repeat(64)}`;
    f.repoDigests = [`example.com/mirror/kubernetes@${other}`, `mcp/kubernetes@${KUBE_DIGEST}`];
    expect(planRewrap(f, OPTS).source.from).toBe(`mcp/kubernetes@${KUBE_DIGEST}`);
  });

  it("never names another repository's digest: an image also pushed elsewhere is local to the repository named", () => {
    const f = kubernetesFacts();
    const other = `sha256:${"1".repeat(64)}`;
    f.repoDigests = [`127.0.0.1:5000/copy/kubernetes@${other}`];
    const p = planRewrap(f, OPTS);
    expect(p.source.from).toBe("mcp/kubernetes:latest");
    expect(p.source.digest).toBeNull();
    expect(p.labels[LABEL.baseDigest]).not.toBe(other);
    expect(Object.values(p.labels).join(" ")).not.toContain("copy/kubernetes");
  });

  it("keeps the tag of a tagged reference", () => {
    const f = kubernetesFacts();
    f.ref = "mcp/kubernetes:1.2";
    const p = planRewrap(f, OPTS);
    expect(p.tag).toBe("mcp-rewrap/kubernetes:1.2");
    expect(p.labels[LABEL.baseName]).toBe("mcp/kubernetes:1.2");
  });

  it("tags a digest reference sha-<12 hex>", () => {
    const f = kubernetesFacts();
    f.ref = `mcp/kubernetes@${KUBE_DIGEST}`;
    const p = planRewrap(f, OPTS);
    expect(p.tag).toBe(`mcp-rewrap/kubernetes:sha-${KUBE_DIGEST.slice(7, 19)}`);
    expect(p.tag).toMatch(/^mcp-rewrap\/kubernetes:sha-[0-9a-f]{12}$/);
    expect(p.source.from).toBe(`mcp/kubernetes@${KUBE_DIGEST}`);
  });

  it("never tags under mcp/, whatever registry prefix the reference has", () => {
    for (const ref of ["mcp/kubernetes", "docker.io/mcp/kubernetes:latest", "index.docker.io/mcp/Kube_Rnetes:2"]) {
      const t = defaultTag(ref, KUBE_ID);
      expect(t).toMatch(/^mcp-rewrap\/[a-z0-9._-]+:/);
      expect(t).not.toMatch(/(^|\/)mcp\//);
    }
    expect(defaultTag("index.docker.io/mcp/Kube_Rnetes:2", KUBE_ID)).toBe("mcp-rewrap/kube_rnetes:2");
  });

  // An image-ID reference (`sha256:<hex>`) is recognised by core/reference.ts (isImageId) and
  // tagged by the ID's first 12 hex digits.
  it("tags an image-ID reference sha-<12 hex>", () => {
    expect(defaultTag(KUBE_ID, KUBE_ID)).toMatch(/:sha-[0-9a-f]{12}$/);
  });

  it("uses an explicit tag as given", () => {
    expect(planRewrap(kubernetesFacts(), { ...OPTS, tag: "me/k8s:fixed" }).tag).toBe("me/k8s:fixed");
  });
});

describe("planRewrap: refusals", () => {
  it("refuses a root image, unless forced", () => {
    for (const user of ["", "root", "0", "0:0"]) {
      const f = rootFacts();
      f.config.user = user;
      const e = thrown(() => planRewrap(f, OPTS));
      expect(e).toBeInstanceOf(PlanError);
      expect(e.message).toMatch(/already runs as root/);
    }
    const p = planRewrap(rootFacts(), { ...OPTS, force: true });
    expect(p.user).toMatchObject({ name: "root", uid: 0, home: "/root" });
    expect(p.entrypoint[0]).toBe(SHIM_PATH);
  });

  it("refuses an image without /bin/sh", () => {
    const f = kubernetesFacts();
    f.present = f.present.filter((p) => !p.endsWith("/sh"));
    const e = thrown(() => planRewrap(f, OPTS));
    expect(e).toBeInstanceOf(PlanError);
    expect(e.message).toContain("/bin/sh");
  });

  it("accepts a shell in /usr/bin only", () => {
    const f = kubernetesFacts();
    f.present = f.present.filter((p) => p !== "/bin/sh");
    expect(planRewrap(f, OPTS).drop.kind).toBe("setpriv");
  });

  it("refuses an image without a privilege-drop tool", () => {
    const f = kubernetesFacts();
    f.present = presentPaths(shimCommandsIn());
    const e = thrown(() => planRewrap(f, OPTS));
    expect(e).toBeInstanceOf(PlanError);
    expect(e.message).toMatch(/no privilege-drop tool/);
    expect(e.message).toMatch(/setpriv, su-exec, gosu and busybox/);
  });

  it("refuses busybox su for a numeric user with no passwd entry", () => {
    const e = thrown(() => planRewrap(busyboxFacts("4242"), OPTS));
    expect(e).toBeInstanceOf(PlanError);
    expect(e.message).toMatch(/busybox su/);
    expect(e.message).toMatch(/uid 4242/);
  });

  it("uses busybox su for a user that has an entry", () => {
    const p = planRewrap(busyboxFacts("mcp"), OPTS);
    expect(p.drop).toEqual({ kind: "busybox-su", path: "/bin/busybox" });
    expect(p.labels[LABEL.drop]).toBe("busybox-su");
    expect(p.entrypoint).toEqual([SHIM_PATH]);
    expect(p.cmd).toEqual(["/app/server"]);
  });

  it("lists the shim commands the image lacks", () => {
    const f = kubernetesFacts();
    f.present = f.present.filter((p) => !/\/(tar|tr)$/.test(p));
    const e = thrown(() => planRewrap(f, OPTS));
    expect(e).toBeInstanceOf(PlanError);
    expect(e.message).toMatch(/lacks commands the shim needs: tar, tr \(looked in \/bin, \/usr\/bin, \/sbin, \/usr\/sbin\)/);
  });

  it("refuses an image mcp-rewrap already rewrapped", () => {
    const f = kubernetesFacts();
    f.ref = "mcp-rewrap/kubernetes:latest";
    f.config.entrypoint = [SHIM_PATH, "docker-entrypoint.sh"];
    f.config.labels = { [LABEL.version]: "0.1.0", [LABEL.baseName]: "mcp/kubernetes:latest" };
    const e = thrown(() => planRewrap(f, OPTS));
    expect(e).toBeInstanceOf(PlanError);
    expect(e.message).toMatch(/already rewrapped by mcp-rewrap 0\.1\.0/);
    expect(e.message).toContain("mcp/kubernetes:latest");
  });

  it("does not mistake a label alone (or the shim path alone) for a rewrap", () => {
    const labelled = kubernetesFacts();
    labelled.config.labels = { [LABEL.version]: "0.1.0" };
    expect(() => planRewrap(labelled, OPTS)).not.toThrow();
    const shimmed = kubernetesFacts();
    shimmed.config.entrypoint = [SHIM_PATH];
    expect(() => planRewrap(shimmed, OPTS)).not.toThrow();
  });

  it("turns an unknown USER into a PlanError naming the image", () => {
    const f = kubernetesFacts();
    f.config.user = "ghost";
    const e = thrown(() => planRewrap(f, OPTS));
    expect(e).toBeInstanceOf(PlanError);
    expect(e.message).toMatch(/^mcp\/kubernetes: .*ghost/);
  });
});

describe("drop tools and shim commands", () => {
  const shell = shimCommandsIn(["/bin"]);
  it.each([
    [["/usr/bin/setpriv", "/sbin/su-exec", "/usr/local/bin/gosu", "/bin/busybox"], { kind: "setpriv", path: "/usr/bin/setpriv" }],
    [["/sbin/su-exec", "/usr/local/bin/gosu", "/bin/busybox"], { kind: "su-exec", path: "/sbin/su-exec" }],
    [["/usr/local/bin/su-exec", "/usr/bin/gosu", "/usr/bin/busybox"], { kind: "su-exec", path: "/usr/local/bin/su-exec" }],
    [["/usr/local/bin/gosu", "/bin/busybox"], { kind: "gosu", path: "/usr/local/bin/gosu" }],
    [["/usr/bin/busybox"], { kind: "busybox-su", path: "/usr/bin/busybox" }],
    [["/usr/local/bin/setpriv"], null],
  ])("findDropTool(%j)", (tools, want) => {
    expect(findDropTool([...shell, ...tools])).toEqual(want);
  });

  it("follows the same preference in the plan", () => {
    const f = kubernetesFacts();
    f.present = presentPaths([...shell, "/usr/local/bin/gosu", "/sbin/su-exec"]);
    const p = planRewrap(f, OPTS);
    expect(p.drop).toEqual({ kind: "su-exec", path: "/sbin/su-exec" });
    expect(p.labels[LABEL.drop]).toBe("su-exec");
  });

  it("missingCommands finds each command in any bin dir", () => {
    expect(missingCommands(shimCommandsIn(["/usr/sbin"]), "setpriv")).toEqual([]);
    expect(missingCommands(["/bin/sh"], "gosu")).toEqual(SHIM_COMMANDS.filter((c) => c !== "sh"));
    // busybox su too: the shim runs tools by absolute path, so the applets must be linked.
    expect(missingCommands(["/bin/busybox", "/bin/sh"], "busybox-su")).toEqual(SHIM_COMMANDS.filter((c) => c !== "sh"));
  });
});

describe("--env", () => {
  it("validates --env names", () => {
    expect(checkEnvName("MY_CFG")).toBe("MY_CFG");
    expect(checkEnvName("_x1")).toBe("_x1");
    for (const bad of ["", "1ABC", "MY-VAR", "A B", "X=1", "$X"]) {
      const e = thrown(() => checkEnvName(bad));
      expect(e).toBeInstanceOf(UsageError);
    }
    const e = thrown(() => planRewrap(kubernetesFacts(), { ...OPTS, env: ["OK_NAME", "not-ok"] }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toContain('"not-ok"');
  });

  it("adds --env names after the defaults, once", () => {
    const p = planRewrap(kubernetesFacts(), { ...OPTS, env: ["MY_TOOL_CONFIG", "KUBECONFIG"] });
    expect(p.envVars).toEqual([...DEFAULT_ENV_VARS, "MY_TOOL_CONFIG"]);
  });

  it("adds image ENV variables whose value points into /root", () => {
    const f = kubernetesFacts();
    f.config.env.push(
      "KUBECONFIG=/root/.kube/config",
      "MY_CFG=/root/x",
      "SEARCH_PATH=/etc/app:/root/app.d",
      "ROOT_ITSELF=/root",
      "ELSEWHERE=/rootfs/x",
      "NOT_ROOT=/home/appuser/root",
      "HOME=/root",
    );
    const p = planRewrap(f, OPTS);
    expect(p.envVars).toEqual([...DEFAULT_ENV_VARS, "MY_CFG", "SEARCH_PATH", "ROOT_ITSELF"]);
    expect(p.envVars.filter((n) => n === "KUBECONFIG")).toHaveLength(1);
    expect(p.envVars).not.toContain("HOME");
    expect(p.envVars).not.toContain("ELSEWHERE");
    expect(p.envVars).not.toContain("NOT_ROOT");
  });
});

describe("planRewrap is pure", () => {
  it("gives deep-equal output for the same input and leaves the input untouched", () => {
    const facts = kubernetesFacts();
    facts.config.env.push("MY_CFG=/root/x");
    const before = structuredClone(facts);
    const opts = { ...OPTS, env: ["EXTRA"] };
    const optsBefore = structuredClone(opts);
    const a = planRewrap(facts, opts);
    const b = planRewrap(facts, opts);
    expect(b).toEqual(a);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(facts).toEqual(before);
    expect(opts).toEqual(optsBefore);
    expect(planRewrap(structuredClone(before), optsBefore)).toEqual(a);
  });
});

// Finding 14: a facts file is input like any other; nothing in it may add a Dockerfile line.
describe("facts that reach the Dockerfile are validated (finding 14)", () => {
  const bad: [string, (f: ReturnType<typeof kubernetesFacts>) => void][] = [
    ["an id with a newline", (f) => (f.id = `${KUBE_ID}\nRUN id`)],
    ["an id that is not sha256 hex", (f) => (f.id = "sha256:XYZ")],
    ["a repository digest with a newline", (f) => (f.repoDigests = [`mcp/kubernetes@${KUBE_DIGEST}\nRUN id`])],
    ["a repository digest with a short digest", (f) => (f.repoDigests = ["mcp/kubernetes@sha256:abc"])],
    ["a repository digest whose name has a space", (f) => (f.repoDigests = [`mcp/kube rnetes@${KUBE_DIGEST}`])],
    ["a ref with a newline", (f) => (f.ref = "mcp/kubernetes\nRUN id")],
  ];
  it.each(bad)("refuses %s with a PlanError", (_what, spoil) => {
    const f = kubernetesFacts();
    spoil(f);
    expect(() => planRewrap(f, OPTS)).toThrow(PlanError);
  });

  it("keeps HEALTHCHECK timings and runs its test through the shim's healthcheck name", () => {
    const f = kubernetesFacts();
    f.config.healthcheck = { test: ["CMD-SHELL", "curl -f localhost || exit 1"], interval: 30e9, timeout: 1.5e9, retries: 3 };
    const p = planRewrap(f, OPTS);
    expect(p.healthcheck).toEqual({
      flags: ["--interval=30s", "--timeout=1500ms", "--retries=3"],
      cmd: ["/usr/local/bin/mcp-rewrap-healthcheck", "/bin/sh", "-c", "curl -f localhost || exit 1"],
      timing: { Interval: 30e9, Timeout: 1.5e9, Retries: 3 },
    });
    f.config.healthcheck = { test: ["NONE"] };
    expect(planRewrap(f, OPTS).healthcheck).toBeNull();
  });
});

describe("a local base named by its tag: is the build still on the image the plan was made from", () => {
  const local = () => {
    const f = kubernetesFacts();
    f.repoDigests = [];
    return planRewrap(f, OPTS);
  };
  const OTHER = `sha256:${"ab12".repeat(16)}`;

  it("only a local image named by its tag is checked: digest-pinned and ID-pinned plans are not", () => {
    expect(localBaseTag(local())).toBe("mcp/kubernetes:latest");
    expect(localBaseTag(planRewrap(kubernetesFacts(), OPTS))).toBeNull();
    const byId = kubernetesFacts();
    byId.repoDigests = [];
    byId.ref = KUBE_ID;
    expect(localBaseTag(planRewrap(byId, OPTS))).toBeNull();
    // Nothing to check there, whatever the engine says now.
    expect(localBaseProblem(planRewrap(kubernetesFacts(), OPTS), null)).toBeNull();
    expect(localBaseProblem(planRewrap(byId, OPTS), { ids: [OTHER] })).toBeNull();
  });

  it("layersOn: the base's layers must be a prefix of the built image's", () => {
    expect(layersOn(["a", "b"], ["a", "b", "c"])).toBe(true);
    expect(layersOn(["a", "b"], ["a", "b"])).toBe(true);
    expect(layersOn([], ["a"])).toBe(true);
    expect(layersOn(["a", "b"], ["a", "x", "c"])).toBe(false);
    expect(layersOn(["b"], ["a", "b"])).toBe(false);
    expect(layersOn(["a", "b", "c"], ["a", "b"])).toBe(false);
  });

  it("inheritsConfig: what the rewrap inherits (Env, WorkingDir, StopSignal, ports, volumes, shell) must be the base's", () => {
    const base = { Env: ["PATH=/bin", "A=1"], WorkingDir: "/app", User: "app", Labels: { a: "1" }, ExposedPorts: { "80/tcp": {} } };
    // What the rewrap's Dockerfile sets (User, Entrypoint, Cmd, Labels, Healthcheck) may differ.
    expect(inheritsConfig(base, { ...base, User: "root", Entrypoint: ["/x"], Labels: { b: "2" } })).toBe(true);
    // Absent, null and empty are the same.
    expect(inheritsConfig({ Env: [], Volumes: null }, { WorkingDir: "", ExposedPorts: {} })).toBe(true);
    expect(inheritsConfig(undefined, {})).toBe(true);
    // Keys in another order are the same ports.
    expect(inheritsConfig({ ExposedPorts: { "80/tcp": {}, "81/tcp": {} } }, { ExposedPorts: { "81/tcp": {}, "80/tcp": {} } })).toBe(true);
    // An ENV line, another WORKDIR, STOPSIGNAL or VOLUME: another base, on the same layers.
    expect(inheritsConfig(base, { ...base, Env: ["PATH=/bin", "A=2"] })).toBe(false);
    expect(inheritsConfig(base, { ...base, Env: ["A=1", "PATH=/bin"] })).toBe(false);
    expect(inheritsConfig(base, { ...base, WorkingDir: "/" })).toBe(false);
    expect(inheritsConfig(base, { ...base, StopSignal: "SIGINT" })).toBe(false);
    expect(inheritsConfig(base, { ...base, Volumes: { "/data": {} } })).toBe(false);
    expect(inheritsConfig(base, { ...base, ExposedPorts: {} })).toBe(false);
  });

  it("localBaseProblem after the build: the base's layers and inherited config, else the tag moved while it was built", () => {
    const local = kubernetesFacts();
    local.repoDigests = [];
    const plan = planRewrap(local, OPTS);
    const now = { ids: [plan.source.id] };
    const cfg = { Env: ["A=1"] };
    expect(localBaseProblem(plan, now, { base: ["a"], built: ["a", "b"], baseConfig: cfg, builtConfig: { ...cfg, User: "root" } })).toBeNull();
    expect(localBaseProblem(plan, now, { base: ["a"], built: ["x", "b"], baseConfig: cfg, builtConfig: cfg })).toMatch(/the tag named another image while it was built/);
    expect(localBaseProblem(plan, now, { base: ["a"], built: ["a", "b"], baseConfig: cfg, builtConfig: { Env: ["A=2"] } })).toMatch(/the tag named another image while it was built/);
  });

  it("onBuildProblem: an image with ONBUILD triggers cannot be rewrapped by a build FROM it; a facts file's triggers must be strings", () => {
    expect(onBuildProblem(kubernetesFacts())).toBeNull();
    const f = kubernetesFacts();
    f.config.onBuild = ["RUN make", "COPY . /app"];
    expect(onBuildProblem(f)).toBe(
      'mcp/kubernetes has ONBUILD triggers ("RUN make", "COPY . /app"): a build FROM it runs them, so the rewrap would not be the image plus one layer. Rewrap it in a registry instead (push it there first if it is only local), which adds the layer without a build: mcp-rewrap build mcp/kubernetes --push --tag REGISTRY/NAME:TAG',
    );
    // The plan itself is made (the registry route uses it); only a build context is refused.
    expect(() => planRewrap(f, OPTS)).not.toThrow();
    const bad = kubernetesFacts();
    (bad.config as { onBuild?: unknown }).onBuild = "RUN make";
    expect(() => planRewrap(bad, OPTS)).toThrow(new PlanError('image facts: config.onBuild "RUN make" is not a list of ONBUILD triggers (strings)'));
  });

  it("shortId: 12 hex digits, as docker images shows", () => {
    expect(shortId(KUBE_ID)).toBe("0123456789ab");
    expect(shortId("0123456789abcdef")).toBe("0123456789ab");
  });

  it("the tag still names the planned image (by the engine's ID or the platform image's): no problem", () => {
    expect(localBaseProblem(local(), { ids: [KUBE_ID] })).toBeNull();
    expect(localBaseProblem(local(), { ids: [OTHER, KUBE_ID] })).toBeNull();
    expect(localBaseProblem(local(), { ids: [KUBE_ID] }, { base: ["l1", "l2"], built: ["l1", "l2", "shim"] })).toBeNull();
  });

  it("the tag names another image: the one line names both short IDs", () => {
    expect(localBaseProblem(local(), { ids: [OTHER] })).toBe(
      "mcp/kubernetes:latest: the tag now names another image (ab12ab12ab12) than the one the plan was made from (0123456789ab); run the build again to plan from it",
    );
    expect(localBaseProblem(local(), { ids: [OTHER] }, { base: ["l1"], built: ["l1", "shim"] })).toContain("now names another image (ab12ab12ab12)");
  });

  it("the tag names no image now", () => {
    expect(localBaseProblem(local(), null)).toMatch(/^mcp\/kubernetes:latest: the tag names no image now, and the plan was made from 0123456789ab; /);
    expect(localBaseProblem(local(), { ids: [] })).not.toBeNull();
  });

  it("after the build: the tag is back on the planned image but the built image is not on its layers (retagged while it was built)", () => {
    const p = localBaseProblem(local(), { ids: [KUBE_ID] }, { base: ["l1", "l2"], built: ["l1", "x2", "shim"] });
    expect(p).toBe(
      "mcp/kubernetes:latest: the tag named another image while it was built than the one the plan was made from (0123456789ab); run the build again to plan from it",
    );
  });
});

describe("isRewrapBuild: the rewrap as built, not an image built FROM it (which inherits its labels)", () => {
  // As the legacy builder writes them (docker history --no-trunc of a rewrap, newest first).
  const nop = (s: string) => ({ CreatedBy: `/bin/sh -c #(nop)  ${s}` });
  const copy = (to: string) => ({ CreatedBy: `/bin/sh -c #(nop) COPY file:f739eb668201d416d8faa98142ab910b41e50a032e270928b17b4cf286ec387e in ${to} ` });
  const base = [nop("USER root"), nop("CMD [\"node\"]"), { CreatedBy: "/bin/sh -c useradd -m appuser" }];
  const rewrap = [nop('CMD ["node" "dist/index.js"]'), nop(`ENTRYPOINT ["${SHIM_PATH}" "docker-entrypoint.sh"]`), nop("LABEL io.mcp-rewrap.version=0.1.0"), copy(SHIM_PATH), ...base];

  it("the generated Dockerfile's steps on top: a rewrap (legacy builder and BuildKit wording, with a healthcheck)", () => {
    expect(isRewrapBuild(rewrap)).toBe(true);
    const bk = [{ CreatedBy: `ENTRYPOINT ["${SHIM_PATH}"]` }, { CreatedBy: "LABEL io.mcp-rewrap.version=0.1.0" }, { CreatedBy: `COPY entrypoint.sh ${SHIM_PATH} # buildkit` }, ...base];
    expect(isRewrapBuild(bk)).toBe(true);
    const hc = [nop(`ENTRYPOINT ["${SHIM_PATH}"]`), nop(`HEALTHCHECK &{["CMD" "${HEALTH_PATH}" "curl"]}`), copy(HEALTH_PATH), copy(SHIM_PATH), ...base];
    expect(isRewrapBuild(hc)).toBe(true);
    // The registry route's one step (mutate.ts, historyEntry), pulled into an engine.
    expect(isRewrapBuild([{ CreatedBy: `COPY entrypoint.sh ${SHIM_PATH} # mcp-rewrap 0.1.0: USER root, ENTRYPOINT ["${SHIM_PATH}"]` }, ...base])).toBe(true);
  });

  it("a step of somebody's own on top (RUN, COPY, ENV, USER), or no shim COPY at all: not a rewrap build", () => {
    expect(isRewrapBuild([{ CreatedBy: "/bin/sh -c echo mine > /mine" }, ...rewrap])).toBe(false);
    expect(isRewrapBuild([nop("COPY file:abc in /mine "), ...rewrap])).toBe(false);
    expect(isRewrapBuild([nop("ENV MINE=1"), ...rewrap])).toBe(false);
    expect(isRewrapBuild([nop("USER appuser"), ...rewrap])).toBe(false);
    expect(isRewrapBuild([nop(`ENTRYPOINT ["${SHIM_PATH}"]`), ...base])).toBe(false);
    // The entrypoint names the shim, but the step under the metadata is not its COPY.
    expect(isRewrapBuild([nop(`CMD ["${SHIM_PATH}"]`), { CreatedBy: `/bin/sh -c cp /x ${SHIM_PATH}` }])).toBe(false);
    expect(isRewrapBuild([])).toBe(false);
  });
});

describe("facts without an id", () => {
  it("a repository digest of another repository cannot pin FROM: refused (it planned an unpinned FROM with an empty digest label)", () => {
    const f = { ...kubernetesFacts(), id: "", repoDigests: [`other/repo@sha256:${"a".repeat(64)}`] };
    expect(() => planRewrap(f, OPTS)).toThrow(/no id, and no repository digest of mcp\/kubernetes\S*'s repository \(other\/repo@sha256:a+\): FROM could not be pinned/);
  });
});
