import { describe, expect, it } from "vitest";
import { type ImageFacts, parseGroup, parsePasswd, resolveUser } from "../../src/core/facts.js";
import { KUBE_GROUP, KUBE_PASSWD } from "./fixtures.js";

type UserFacts = Pick<ImageFacts, "config" | "passwd" | "group">;

function userFacts(user: string, env: string[] = [], passwd: string | null = KUBE_PASSWD, group: string | null = KUBE_GROUP): UserFacts {
  return { config: { user, env, entrypoint: null, cmd: null, workdir: "", labels: {} }, passwd, group };
}

describe("parsePasswd", () => {
  it("parses entries and skips comments, blank lines and malformed lines", () => {
    const text = [
      "# a comment line",
      "root:x:0:0:root:/root:/bin/bash",
      "",
      "   ",
      "short:x:5:5:/home/short", // too few fields
      "baduid:x:abc:5::/home/b:/bin/sh", // uid not a number
      "badgid:x:7:1.5::/home/b:/bin/sh", // gid not an integer
      "appuser:x:1001:1002:App User:/home/appuser:/bin/sh",
      "#disabled:x:9:9::/:/bin/sh",
    ].join("\n");
    expect(parsePasswd(text)).toEqual([
      { name: "root", uid: 0, gid: 0, home: "/root", shell: "/bin/bash" },
      { name: "appuser", uid: 1001, gid: 1002, home: "/home/appuser", shell: "/bin/sh" },
    ]);
  });

  it("returns [] for a missing or empty file", () => {
    expect(parsePasswd(null)).toEqual([]);
    expect(parsePasswd("")).toEqual([]);
  });
});

describe("parseGroup", () => {
  it("parses members and skips comments, blank lines and malformed lines", () => {
    const text = [
      "# groups",
      "root:x:0:",
      "",
      "audio:x:29:appuser, node ,",
      "broken:x:30", // too few fields
      "badgid:x:zz:appuser", // gid not a number
      "users:x:100:node,appuser",
    ].join("\n");
    expect(parseGroup(text)).toEqual([
      { name: "root", gid: 0, members: [] },
      { name: "audio", gid: 29, members: ["appuser", "node"] },
      { name: "users", gid: 100, members: ["node", "appuser"] },
    ]);
  });

  it("returns [] for a missing file", () => {
    expect(parseGroup(null)).toEqual([]);
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
