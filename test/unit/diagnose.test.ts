import { describe, expect, it } from "vitest";
import { diagnose, formatDiagnosis } from "../../src/core/diagnose.js";
import { DEFAULT_MOUNTS, SHIM_PATH } from "../../src/core/plan.js";
import { KUBE_DIGEST, busyboxFacts, distrolessFacts, kubernetesFacts, rootFacts } from "./fixtures.js";

const VERSION = "9.9.9-test";

describe("diagnose", () => {
  it("says mcp/kubernetes needs a rewrap: every default mount is blocked by /root 0700", () => {
    const d = diagnose(kubernetesFacts(), VERSION);
    expect(d.needsRewrap).toBe(true);
    expect(d.cannotRewrap).toBeNull();
    expect(d.user).toMatchObject({ name: "appuser", uid: 1001 });
    expect(d.digest).toBe(KUBE_DIGEST);
    expect(d.platform).toBe("linux/amd64");
    expect(d.shell).toBe(true);
    expect(d.dropTool).toEqual({ kind: "setpriv", path: "/usr/bin/setpriv" });
    // The /root sites (older catalogs, #284), then the same paths in the user's home (today's
    // catalog, where a Linux host's 0600 file stays unreadable: #103; it listed /root only).
    const home = ["/home/appuser/.kube", "/home/appuser/.aws", "/home/appuser/.config/gcloud", "/home/appuser/.docker", "/home/appuser/.azure"];
    expect(d.mounts.map((m) => m.target)).toEqual([...DEFAULT_MOUNTS, ...home]);
    for (const m of d.mounts.slice(0, DEFAULT_MOUNTS.length)) {
      expect(m).toMatchObject({ reachable: false, why: "uid 1001 cannot enter /root (mode 0700)" });
      expect(m.host).toBeUndefined();
    }
    for (const m of d.mounts.slice(DEFAULT_MOUNTS.length)) {
      expect(m).toEqual({ target: m.target, reachable: false, host: true, why: "a host file mounted here keeps its owner and mode: uid 1001 cannot read a 0600 file of another uid (a Linux host, #103)" });
    }
    expect(d.summary).toContain("needs a rewrap");
    expect(d.summary).toContain("`mcp-rewrap build mcp/kubernetes`");
  });

  it("still blocks mounts when /root is traversable: the host file stays 0600", () => {
    const f = kubernetesFacts();
    f.rootMode = 0o755;
    const d = diagnose(f, VERSION);
    expect(d.needsRewrap).toBe(true);
    for (const m of d.mounts) {
      expect(m.reachable).toBe(false);
      expect(m.why).toMatch(/0600/);
      expect(m.why).not.toMatch(/cannot enter/);
    }
  });

  it("explains a /root that the image lacks", () => {
    const f = kubernetesFacts();
    f.rootMode = null;
    const d = diagnose(f, VERSION);
    expect(d.mounts[0]!.reachable).toBe(false);
    expect(d.mounts[0]!.why).toMatch(/^\/root is missing in the image/);
  });

  it("says a root image needs no rewrap", () => {
    const d = diagnose(rootFacts(), VERSION);
    expect(d.needsRewrap).toBe(false);
    expect(d.cannotRewrap).toBeNull();
    expect(d.user).toMatchObject({ name: "root", uid: 0 });
    expect(d.mounts.every((m) => m.reachable)).toBe(true);
    expect(d.summary).toMatch(/^no rewrap needed/);
    expect(d.summary).not.toContain("mcp-rewrap build");
  });

  it("says a rewrap is one (it starts as root by design), not that it needs no rewrap", () => {
    const f = rootFacts();
    f.ref = "mcp-rewrap/kubernetes:latest";
    // What a rewrap is: the shim first in its entrypoint, and the version label (isRewrapped).
    f.config.entrypoint = [SHIM_PATH, "docker-entrypoint.sh"];
    f.config.labels = { ...f.config.labels, "io.mcp-rewrap.version": "0.1.0", "io.mcp-rewrap.user": "appuser:1001:1001", "org.opencontainers.image.base.name": "mcp/kubernetes:latest" };
    const d = diagnose(f, VERSION);
    expect(d.summary).toBe("already a rewrap (mcp-rewrap 0.1.0) of mcp/kubernetes:latest, for appuser; `mcp-rewrap verify mcp-rewrap/kubernetes:latest` checks it under the gateway's run line");
  });

  it("says a distroless image cannot be rewrapped for want of /bin/sh", () => {
    const d = diagnose(distrolessFacts(), VERSION);
    expect(d.needsRewrap).toBe(true);
    expect(d.shell).toBe(false);
    expect(d.dropTool).toBeNull();
    expect(d.cannotRewrap).toContain("/bin/sh");
    expect(d.summary).toMatch(/^needs a rewrap, but one cannot be made: .*\/bin\/sh/);
    expect(d.summary).not.toContain("mcp-rewrap build");
    expect(d.digest).toBeNull();
  });

  it("says a busybox image with an unlisted numeric user cannot be rewrapped", () => {
    const d = diagnose(busyboxFacts("4242"), VERSION);
    expect(d.needsRewrap).toBe(true);
    expect(d.cannotRewrap).toMatch(/busybox su/);
  });

  it("reports an unresolvable USER instead of throwing", () => {
    const f = kubernetesFacts();
    f.config.user = "ghost";
    const d = diagnose(f, VERSION);
    expect(d.user).toBeNull();
    expect(d.needsRewrap).toBe(false);
    expect(d.summary).toMatch(/^cannot tell: .*ghost/);
    expect(d.mounts.every((m) => !m.reachable && m.why.includes("ghost"))).toBe(true);
  });

  it("does not mutate the facts", () => {
    const f = kubernetesFacts();
    const before = structuredClone(f);
    diagnose(f, VERSION);
    expect(f).toEqual(before);
  });
});

describe("formatDiagnosis", () => {
  it("shows the user line, a BLOCKED line per mount and the summary", () => {
    const d = diagnose(kubernetesFacts(), VERSION);
    const text = formatDiagnosis(d);
    const lines = text.split("\n");
    expect(text.endsWith("\n")).toBe(true);
    expect(lines).toContain("user        appuser uid=1001 gid=1001 groups=1001 home=/home/appuser (passwd)");
    expect(lines).toContain(`digest      ${KUBE_DIGEST}`);
    expect(lines).toContain("drop tool   setpriv (/usr/bin/setpriv)");
    const blocked = lines.filter((l) => l.startsWith("  BLOCKED "));
    expect(blocked).toEqual(DEFAULT_MOUNTS.map((m) => `  BLOCKED ${m}  uid 1001 cannot enter /root (mode 0700)`));
    expect(lines).toContain("  HOST    /home/appuser/.kube  a host file mounted here keeps its owner and mode: uid 1001 cannot read a 0600 file of another uid (a Linux host, #103)");
    expect(lines).toContain(d.summary);
  });

  it("a control character from the image (a newline in ENV HOME, an escape in WorkingDir) is shown escaped: one line per entry (the home's newline split the user line in two)", () => {
    const f = kubernetesFacts();
    f.passwd = f.passwd!.replace(/^appuser:.*$/m, "appuser:x:1001:1001::/nonexistent:/bin/sh");
    f.config.env = [...f.config.env, "HOME=/home/a\nb"];
    f.config.workdir = "/srv/\u001b[31mred";
    const text = formatDiagnosis(diagnose(f, VERSION));
    const lines = text.split("\n");
    expect(lines.find((l) => l.startsWith("user "))).toMatch(/ home=\/home\/a\\nb \(/);
    expect(lines).toContain("workdir     /srv/\\x1b[31mred");
    expect(text).not.toMatch(/\u001b/);
    expect(lines.filter((l) => l.startsWith("b "))).toEqual([]);
  });

  it("a user whose home is /root, or none the image has (/, which the rewrap replaces with one it makes), has no home sites", () => {
    for (const home of ["/", "/root/"]) {
      const f = kubernetesFacts();
      f.passwd = f.passwd!.replace(/^appuser:.*$/m, `appuser:x:1001:1001::${home}:/bin/sh`);
      expect(diagnose(f, VERSION).mounts.map((m) => m.target), home).toEqual(DEFAULT_MOUNTS);
    }
  });

  it("marks reachable mounts ok and an unresolved user", () => {
    expect(formatDiagnosis(diagnose(rootFacts(), VERSION))).toMatch(/^ {2}ok {6}\/root\/\.kube {2}the image runs as root$/m);
    const f = kubernetesFacts();
    f.config.user = "ghost";
    expect(formatDiagnosis(diagnose(f, VERSION))).toMatch(/^user {8}\(unresolved\)$/m);
  });

  it("an image with ONBUILD triggers: listed, and the rewrap it needs is the registry route's", () => {
    const f = kubernetesFacts();
    f.config.onBuild = ["RUN touch /x"];
    const d = diagnose(f, VERSION);
    expect(d.onBuild).toEqual(["RUN touch /x"]);
    expect(d.cannotRewrap).toBeNull();
    expect(d.summary).toMatch(/ONBUILD triggers, which a build FROM it would run, so rewrap it in its registry: `mcp-rewrap build mcp\/kubernetes --push --tag REGISTRY\/NAME:TAG`$/);
    expect(formatDiagnosis(d)).toMatch(/^onbuild {5}"RUN touch \/x" \(a build FROM the image runs them\)$/m);
    expect(diagnose(kubernetesFacts(), VERSION).onBuild).toEqual([]);
    expect(formatDiagnosis(diagnose(kubernetesFacts(), VERSION))).not.toMatch(/^onbuild/m);
  });
});
