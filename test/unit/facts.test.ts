import { describe, expect, it } from "vitest";
import { type ImageFacts, factsProblems, imageConfigFrom, parseGroup, parsePasswd, resolveUser } from "../../src/core/facts.js";
import { KUBE_GROUP, KUBE_PASSWD } from "./fixtures.js";

type UserFacts = Pick<ImageFacts, "config" | "passwd" | "group">;

function userFacts(user: string, env: string[] = [], passwd: string | null = KUBE_PASSWD, group: string | null = KUBE_GROUP): UserFacts {
  return { config: { user, env, entrypoint: null, cmd: null, workdir: "", labels: {} }, passwd, group };
}

// The runtime's own rules (moby/sys/user, used by runc and moby): lines trimmed, blank lines
// skipped, fields positional (missing ones empty, a bad number is 0); /etc/group also skips "#"
// lines and never trims its member names.
describe("parsePasswd (runc's rules)", () => {
  it("keeps short and odd lines as the runtime does; skips only blank lines", () => {
    const text = [
      "root:x:0:0:root:/root:/bin/bash",
      "",
      "   ",
      "short:x:5:5:/home/short", // 5 fields: the 5th is GECOS, home and shell empty
      "baduid:x:abc:5::/home/b:/bin/sh", // uid not a number: 0
      "  app:x:1001:1001", // finding 5: 4 fields, leading blanks trimmed
      "#disabled:x:9:9::/:/bin/sh", // not a comment for passwd
    ].join("\n");
    expect(parsePasswd(text)).toEqual([
      { name: "root", uid: 0, gid: 0, home: "/root", shell: "/bin/bash" },
      { name: "short", uid: 5, gid: 5, home: "", shell: "" },
      { name: "baduid", uid: 0, gid: 5, home: "/home/b", shell: "/bin/sh" },
      { name: "app", uid: 1001, gid: 1001, home: "", shell: "" },
      { name: "#disabled", uid: 9, gid: 9, home: "/", shell: "/bin/sh" },
    ]);
  });

  it("returns [] for a missing or empty file", () => {
    expect(parsePasswd(null)).toEqual([]);
    expect(parsePasswd("")).toEqual([]);
  });
});

describe("parseGroup (runc's rules)", () => {
  it("skips blank and # lines, keeps short lines, never trims member names", () => {
    const text = [
      "# groups",
      "root:x:0:",
      "",
      "audio:x:29:appuser, node ,", // finding 6: " node " is not node
      "broken:x:30", // no member list
      "badgid:x:zz:appuser", // gid not a number: 0
      "users:x:100:node,appuser",
    ].join("\n");
    expect(parseGroup(text)).toEqual([
      { name: "root", gid: 0, members: [] },
      { name: "audio", gid: 29, members: ["appuser", " node ", ""] },
      { name: "broken", gid: 30, members: [] },
      { name: "badgid", gid: 0, members: ["appuser"] },
      { name: "users", gid: 100, members: ["node", "appuser"] },
    ]);
  });

  it("returns [] for a missing file", () => {
    expect(parseGroup(null)).toEqual([]);
  });
});

describe("findings 5 and 6: identity as runc gives it", () => {
  it("a 4-field passwd line is honoured: USER app gets gid 1001, not 0", () => {
    const u = resolveUser(userFacts("app", [], "root:x:0:0:root:/root:/bin/sh\napp:x:1001:1001\n", "root:x:0:\napp:x:1001:\n"));
    expect([u.uid, u.gid, u.groups, u.inPasswd]).toEqual([1001, 1001, [1001], true]);
  });

  it("a member written with a leading space is not a member", () => {
    const u = resolveUser(userFacts("app", [], "app:x:1001:1001::/home/app:/bin/sh\n", "app:x:1001:\nextra:x:2001: app\nother:x:2002:x,app\n"));
    expect(u.groups).toEqual([1001, 2002]);
  });

  it("a numeric USER group is a gid even when a group has that number as its name", () => {
    const u = resolveUser(userFacts("app:2001", [], "app:x:1001:1001::/home/app:/bin/sh\n", "2001:x:3000:\nreal:x:2001:\n"));
    expect(u.gid).toBe(2001);
  });
});

describe("resolveUser", () => {
  it("resolves a named user from /etc/passwd", () => {
    expect(resolveUser(userFacts("appuser"))).toEqual({
      spec: "appuser",
      name: "appuser",
      uid: 1001,
      gid: 1001,
      groups: [1001],
      home: "/home/appuser",
      homeSource: "passwd",
      inPasswd: true,
    });
  });

  it("adds supplementary groups from /etc/group members: primary gid first, no duplicates", () => {
    const group = [
      "root:x:0:",
      "audio:x:29:appuser",
      "users:x:100:node,appuser",
      "node:x:1000:node",
      "appuser:x:1001:appuser", // the primary group listing its own user: no duplicate
      "video:x:44:node",
    ].join("\n");
    const u = resolveUser(userFacts("appuser", [], KUBE_PASSWD, group));
    expect(u.groups).toEqual([1001, 29, 100]);
    expect(u.gid).toBe(1001);
  });

  it("resolves a numeric uid that has an entry to that entry", () => {
    const u = resolveUser(userFacts("1001"));
    expect(u).toMatchObject({ spec: "1001", name: "appuser", uid: 1001, gid: 1001, home: "/home/appuser", homeSource: "passwd", inPasswd: true });
  });

  it("resolves uid:gid with no entry to a generated home", () => {
    expect(resolveUser(userFacts("4242:4242"))).toEqual({
      spec: "4242:4242",
      name: "4242",
      uid: 4242,
      gid: 4242,
      groups: [4242],
      home: "/home/mcp-rewrap-4242",
      homeSource: "generated",
      inPasswd: false,
    });
  });

  it("gives a numeric uid with no entry and no group gid 0, as Docker does", () => {
    const u = resolveUser(userFacts("4242"));
    expect(u).toMatchObject({ name: "4242", uid: 4242, gid: 0, groups: [0], inPasswd: false, homeSource: "generated" });
  });

  it("resolves a named group in user:group", () => {
    const u = resolveUser(userFacts("appuser:staff"));
    expect(u.uid).toBe(1001);
    expect(u.gid).toBe(50);
    expect(u.groups[0]).toBe(50);
  });

  it("resolves a numeric group in user:gid", () => {
    const u = resolveUser(userFacts("appuser:4000"));
    expect(u).toMatchObject({ uid: 1001, gid: 4000 });
    expect(u.groups[0]).toBe(4000);
  });

  // Docker (moby/sys/user GetExecUser) looks up supplementary groups only in the implicit form
  // ("Supplementary group ids only make sense if in the implicit form"): `USER appuser:staff`
  // runs with gid 50 and no groups from /etc/group. resolveUser adds appuser's memberships anyway,
  // so the shim's `setpriv --groups` grants the server groups it never had under Docker.
  it("user:group gets no supplementary groups from /etc/group, as Docker does", () => {
    const group = "staff:x:50:\naudio:x:29:appuser\nappuser:x:1001:\n";
    const u = resolveUser(userFacts("appuser:staff", [], KUBE_PASSWD, group));
    expect(u.groups).toEqual([50]);
  });

  it("lets an absolute ENV HOME win over /etc/passwd", () => {
    const u = resolveUser(userFacts("appuser", ["PATH=/usr/bin", "HOME=/app"]));
    expect(u).toMatchObject({ home: "/app", homeSource: "env" });
  });

  it("ignores ENV HOME=/root for a non-root user", () => {
    const u = resolveUser(userFacts("appuser", ["HOME=/root"]));
    expect(u).toMatchObject({ home: "/home/appuser", homeSource: "passwd" });
  });

  it("ignores a relative ENV HOME", () => {
    const u = resolveUser(userFacts("appuser", ["HOME=app"]));
    expect(u).toMatchObject({ home: "/home/appuser", homeSource: "passwd" });
  });

  it("generates a home when /etc/passwd says /nonexistent", () => {
    const passwd = `${KUBE_PASSWD}svc:x:1500:1500::/nonexistent:/usr/sbin/nologin\n`;
    const u = resolveUser(userFacts("svc", [], passwd));
    expect(u).toMatchObject({ name: "svc", uid: 1500, home: "/home/mcp-rewrap-1500", homeSource: "generated", inPasswd: true });
  });

  it("generates a home when a non-root user's passwd home is / or /root", () => {
    const passwd = `${KUBE_PASSWD}slash:x:1600:1600::/:/bin/sh\nhijack:x:1700:1700::/root:/bin/sh\n`;
    expect(resolveUser(userFacts("slash", [], passwd)).home).toBe("/home/mcp-rewrap-1600");
    expect(resolveUser(userFacts("hijack", [], passwd)).home).toBe("/home/mcp-rewrap-1700");
  });

  it("treats an empty USER as root", () => {
    expect(resolveUser(userFacts(""))).toEqual({
      spec: "",
      name: "root",
      uid: 0,
      gid: 0,
      groups: [0],
      home: "/root",
      homeSource: "passwd",
      inPasswd: true,
    });
  });

  it("throws on a user name the image does not define", () => {
    expect(() => resolveUser(userFacts("ghost"))).toThrow(/USER "ghost" has no entry in its \/etc\/passwd/);
    expect(() => resolveUser(userFacts("appuser", [], null))).toThrow(/appuser/);
  });

  it("throws on a group name the image does not define", () => {
    expect(() => resolveUser(userFacts("appuser:ghosts"))).toThrow(/group "ghosts" has no entry in its \/etc\/group/);
    expect(() => resolveUser(userFacts("4242:ghosts"))).toThrow(/ghosts/);
  });
});

describe("imageConfigFrom", () => {
  it("keeps ONBUILD triggers when there are some, and adds no field when there are none (facts and their keys stay as they were)", () => {
    expect(imageConfigFrom({ OnBuild: ["RUN make"] }).onBuild).toEqual(["RUN make"]);
    expect("onBuild" in imageConfigFrom({ OnBuild: [] })).toBe(false);
    expect("onBuild" in imageConfigFrom({ OnBuild: null })).toBe(false);
    expect("onBuild" in imageConfigFrom({})).toBe(false);
  });
});

describe("factsProblems: a facts file holds what mcp-rewrap writes", () => {
  it("the committed facts (generated and hand-written) have none; wrong types are named, field by field", async () => {
    const { readFileSync } = await import("node:fs");
    for (const n of ["kubernetes", "aks", "okta-mcp-server"]) {
      expect(factsProblems(JSON.parse(readFileSync(new URL(`../../images/${n}/facts.json`, import.meta.url), "utf8"))), n).toEqual([]);
    }
    const good = JSON.parse(readFileSync(new URL("../../images/kubernetes/facts.json", import.meta.url), "utf8"));
    const bad = { ...good, passwd: 42, present: null, rootMode: "0700", config: { ...good.config, cmd: "node x", user: 1001, env: { A: "1" }, labels: { a: 1 } } };
    expect(factsProblems(bad)).toEqual([
      "passwd: must be a string or null",
      "present: must be a list of strings",
      "rootMode: must be a mode (0-4095) or null",
      "config.user: must be a string",
      "config.env: must be a list of strings",
      "config.cmd: must be a list of strings or null",
      "config.labels: must be an object of strings",
    ]);
    expect(factsProblems([])).toEqual(["must be a JSON object"]);
    expect(factsProblems({ ref: "x", id: "y", present: [] })).toEqual(["config: missing (an object)"]);
  });
});

describe("resolveUser: ids runc refuses", () => {
  it.each(["-1", "4294967295", "1001:-5", "2147483648"])("user %s → an error naming the range (a catalog's user: or an image's USER; the container would not start)", (spec) => {
    expect(() => resolveUser({ config: { user: spec, env: [] } as unknown as ImageFacts["config"], passwd: KUBE_PASSWD, group: KUBE_GROUP })).toThrow(/is out of the runtime's range 0-2147483647 \(runc refuses to start the container\)/);
  });
  it("the range's ends are taken", () => {
    expect(resolveUser({ config: { user: "2147483647:0", env: [] } as unknown as ImageFacts["config"], passwd: KUBE_PASSWD, group: KUBE_GROUP }).uid).toBe(2147483647);
  });
});

describe("resolveUser: a home written another way", () => {
  const passwd = (home: string) => `root:x:0:0::/root:/bin/sh\napp:x:1001:1001::${home}:/bin/sh\n`;
  const user = (home: string, env: string[] = []) => resolveUser({ config: { user: "app", env } as unknown as ImageFacts["config"], passwd: passwd(home), group: "app:x:1001:\n" });

  it.each(["/root/", "//root", "/home/../root", "/root/app"])("%s is /root or below it: not the user's home (it was taken as is, and the shim matched nothing below it)", (home) => {
    expect(user(home).home).toBe("/home/mcp-rewrap-1001");
    expect(user("/home/app", [`HOME=${home}`]).home).toBe("/home/app");
  });

  it("a trailing or doubled slash is dropped: /home/app/ and /home//app are /home/app", () => {
    expect(user("/home/app/").home).toBe("/home/app");
    expect(user("/home/app", ["HOME=/home//app"]).home).toBe("/home/app");
  });
});

describe("factsProblems: nesting", () => {
  it("a field nested 100,000 levels deep is a problem, found without recursion (writing it back overflowed the stack: exit 3, no message)", () => {
    const n = 100_000;
    const deep = JSON.parse(`${'{"a":'.repeat(n)}{}${"}".repeat(n)}`) as unknown;
    expect(factsProblems({ ref: "x", id: "", config: {}, present: [], deep })).toEqual(["nested deeper than 32 levels: not a facts file mcp-rewrap wrote"]);
  });
});
