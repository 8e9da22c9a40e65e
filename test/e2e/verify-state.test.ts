/**
 * `verify --state TARGET`: an okta-shaped image (Debian, `useradd --create-home appuser`, USER
 * appuser; the catalog mounts a named volume at /root/.local/share/python_keyring) keeps no
 * state: what the first run writes is gone in the second. A volume at a path the user owns in
 * the image persists (the check can pass), and so does the /root volume of the okta-shaped image's
 * rewrap (the shim links $HOME/.local/share/python_keyring to it). Every volume verify makes is
 * removed.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, ensureBed } from "../support/bed.js";
import { dockerSync, removeImages } from "../support/docker.js";

const IMAGE = "mcp-rewrap-test/okta-shaped:e2e";
const KEYRING = "/root/.local/share/python_keyring";
const REWRAPPED = "mcp-rewrap-test/okta-shaped-rewrapped:e2e";

describe("verify --state", () => {
  let dir: string;
  beforeAll(() => {
    ensureBed();
    dir = mkdtempSync(join(tmpdir(), "mcp-rewrap-state-"));
    writeFileSync(
      join(dir, "Dockerfile"),
      [
        "FROM mcp-rewrap-test/bookworm:latest",
        "RUN useradd --create-home --shell /bin/sh appuser",
        "USER appuser",
        'ENTRYPOINT ["sh", "-c", "cat >/dev/null"]',
        "",
      ].join("\n"),
    );
    dockerSync(["build", "-q", "-t", IMAGE, dir]);
  });
  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await removeImages(REWRAPPED, IMAGE);
  });
  const volumes = () => dockerSync(["volume", "ls", "-q", "--filter", "name=mcp-rewrap-verify-state-"]).trim();

  it("an okta-shaped image loses what it writes under the /root volume: FAIL, state would not persist", () => {
    const r = cli(["verify", IMAGE, "--mount", "/root/.kube/config", "--state", KEYRING, "--json"]);
    expect(r.code, r.stderr).toBe(1);
    const [v] = JSON.parse(r.stdout);
    expect(v.state).toHaveLength(1);
    expect(v.state[0]).toMatchObject({ target: KEYRING, ok: false, path: "/home/appuser/.local/share/python_keyring" });
    expect(v.state[0].reason).toMatch(/gone in the second: state would not persist/);
    const human = cli(["verify", IMAGE, "--mount", "/root/.kube/config", "--state", KEYRING]);
    expect(human.stdout).toMatch(/^ {2}FAIL state \/root\/\.local\/share\/python_keyring: /m);
    expect(volumes()).toBe("");
  });

  it("a volume where the user's own files are persists, owned by the user: the check can pass", () => {
    const r = cli(["verify", IMAGE, "--mount", "/home/appuser/.kube/config", "--state", "/home/appuser", "--json"]);
    const [v] = JSON.parse(r.stdout);
    expect(v.state[0], r.stdout).toMatchObject({ target: "/home/appuser", ok: true, path: "/home/appuser" });
    expect(v.state[0].reason).toMatch(/owned by the server's uid 1000/);
    expect(volumes()).toBe("");
  });

  it("the rewrap of the okta-shaped image keeps what the first run writes: PASS, owned by the user", () => {
    const b = cli(["build", IMAGE, "--tag", REWRAPPED, "-q"]);
    expect(b.code, b.stderr).toBe(0);
    const r = cli(["verify", REWRAPPED, "--mount", "/root/.kube/config", "--state", KEYRING, "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const [v] = JSON.parse(r.stdout);
    expect(v.state[0], r.stdout).toMatchObject({ target: KEYRING, ok: true });
    expect(volumes()).toBe("");
  });
});
