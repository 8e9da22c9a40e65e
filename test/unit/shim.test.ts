/**
 * The shim's functions, without Docker: the rendered shim is sourced (its guard runs nothing
 * unless it is executed as mcp-rewrap-entrypoint or mcp-rewrap-healthcheck) under BOTH dash and
 * busybox sh, and its functions are called on crafted inputs. The drop itself (rw_as_user) is
 * replaced by a plain call where a test needs the user's half: who runs it is the e2e suites'
 * business, what it does is tested here.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { configPathLines } from "../../src/core/config-paths.js";
import { contextKeyOf } from "../../src/core/freshness.js";
import { planRewrap } from "../../src/core/plan.js";
import { renderContext, shellQuote } from "../../src/core/render.js";
import { loadTemplates } from "../../src/edge/fs.js";
import { OPTS, kubernetesFacts } from "./fixtures.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "mcp-rewrap-shim-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The kubernetes fixture's shim, with the tools at this machine's paths (Debian: /bin is /usr/bin). */
function shimFile(): string {
  const plan = planRewrap(kubernetesFacts(), OPTS);
  const templates = loadTemplates(join(repoRoot, "templates"));
  const shim = renderContext(plan, templates, contextKeyOf(plan, {}, templates)).find((f) => f.path === "entrypoint.sh")!.content;
  const file = join(work, "entrypoint.sh");
  writeFileSync(file, shim, { mode: 0o755 });
  return file;
}
const SHIM = shimFile();

const SHELLS: [string, string[]][] = [
  ["dash", ["/bin/dash"]],
  ["busybox sh", ["/bin/busybox", "sh"]],
];
for (const [name, argv] of SHELLS) {
  if (!existsSync(argv[0]!)) throw new Error(`${argv[0]} is missing: apt-get install -y ${name === "dash" ? "dash" : "busybox-static"} (needed for the shim's unit tests)`);
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `. SHIM; rw_facts; SCRIPT` (without rw_facts when `facts` is false) under the shell with an empty environment plus `env`. */
function run(shell: string[], script: string, env: Record<string, string> = {}, facts = true): Run {
  const r = spawnSync("/usr/bin/env", ["-i", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...shell, "-c", `. "$0" || exit 99\n${facts ? "rw_facts\n" : ""}${script}`, SHIM], {
    encoding: "utf8",
    input: "",
    timeout: 20_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dirN = 0;
function freshDir(label: string): string {
  const d = join(work, `${label}-${dirN++}`);
  mkdirSync(d, { recursive: true });
  return d;
}

/** A crafted mountinfo file, one line per entry. */
function mountinfoFile(name: string, lines: string[]): string {
  const file = join(work, name);
  writeFileSync(file, [...lines, ""].join("\n"));
  return file;
}

describe.each(SHELLS)("the shim under %s", (_name, shell) => {
  it("rw_status reads the effective uid, CapEff and the groups in one pass", () => {
    const r = run(shell, `rw_status; printf '%s|%s|%s' "$RW_S_UID" "$RW_S_CAPEFF" "$RW_S_GROUPS"`);
    const st = readFileSync("/proc/self/status", "utf8");
    expect(r.stdout.split("|")[0]).toBe(String(process.geteuid!()));
    expect(r.stdout.split("|")[1]).toMatch(/^[0-9a-f]{16}$/);
    expect(r.stdout.split("|")[2]!.trim().split(/\s+/).filter(Boolean)).toEqual((/^Groups:[ \t]*([^\n]*)$/m.exec(st)?.[1] ?? "").trim().split(/\s+/).filter(Boolean));
  });

  it("rw_read_kernel reads status, mountinfo and the environment in one process, as the builtin readers do", () => {
    const r = run(
      shell,
      // The host's mount table may change between two reads (containers come and go): 3 tries.
      `for t in 1 2 3; do rw_read_kernel; a="$RW_S_UID|$RW_S_CAPEFF|$(echo $RW_S_GROUPS)|$RW_MOUNTINFO"; rw_status; rw_slurp /proc/self/mountinfo; b="$RW_S_UID|$RW_S_CAPEFF|$(echo $RW_S_GROUPS)|$RW_OUT"; [ "$a" = "$b" ] && break; done; [ "$a" = "$b" ] && printf '%s' "$a"`,
      { PATH: "/usr/bin:/bin", A: "x\nName:\t1 2 3\nUid:\t7 7 7 7" },
    );
    expect(r.status).toBe(0);
    expect(r.stdout.split("|")[0]).toBe(String(process.geteuid!()));
    expect(r.stdout.split("|")[3]!.split("\n").filter(Boolean)).toEqual(readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter(Boolean));
  });

  it("rw_environ_exact takes only names the shell could import: a name with a blank never reaches its eval", () => {
    const dir = freshDir("evalname");
    writeFileSync(join(dir, "RW_E_RW_A"), "#!/bin/sh\necho ran-as-root >&2\n", { mode: 0o755 });
    const r = spawnSync("/usr/bin/env", ["-i", `PATH=${dir}:/usr/bin:/bin`, "RW_A B=x", "PWD=/", ...shell, "-c", `. "$0"; rw_read_kernel; printf '%s' "$RW_E_HAS"`, SHIM], { encoding: "utf8" });
    expect(r.stderr).not.toContain("ran-as-root");
    expect(r.stdout).toBe(" PATH PWD ");
  });

  it("rw_read_kernel tells PATH, PWD and SHLVL in the caller's environment from their look-alikes", () => {
    const show = `rw_read_kernel; for n in PATH PWD SHLVL; do RW_OUT=; rw_environ_value $n; printf '%s=%s:%s;' $n $? "$RW_OUT"; done`;
    expect(run(shell, show, { PATH: "/x:/usr/bin" }, false).stdout).toBe("PATH=0:/x:/usr/bin;PWD=1:;SHLVL=1:;");
    expect(run(shell, show, { MANPATH: "/m", OLDPWD: "/o", XSHLVL: "9", PATH: "/x" }, false).stdout).toBe("PATH=0:/x;PWD=1:;SHLVL=1:;");
    expect(run(shell, show, { PWD: "/", SHLVL: "3", PATH: "/p" }, false).stdout).toBe("PATH=0:/p;PWD=0:/;SHLVL=0:3;");
    expect(run(shell, show, { MANPATH: "/m" }, false).stdout).toBe("PATH=1:;PWD=1:;SHLVL=1:;");
  });

  it("sourcing defines the functions and runs nothing", () => {
    const r = run(shell, "command -v rw_main >/dev/null && command -v rw_mounts >/dev/null && echo defined");
    expect(r).toEqual({ status: 0, stdout: "defined\n", stderr: "" });
  });

  it("rw_unescape decodes mountinfo's octal escapes byte for byte", () => {
    const r = run(shell, `rw_unescape '/root/a\\040b\\011c\\012d\\134e\\101'; printf '%s' "$RW_OUT"`);
    expect(r.stdout).toBe("/root/a b\tc\nd\\e\\101");
  });

  it("rw_mounts reads a crafted mountinfo: points and roots decoded, each once", () => {
    const mi = mountinfoFile("mountinfo-1", [
      "141 54 0:39 / / rw,relatime master:3 - overlay overlay rw,lowerdir=/x",
      "158 141 254:0 /tmp/kc /root/.kube/config ro,relatime - ext4 /dev/vda rw",
      "159 141 254:0 /tmp/a\\040b /root/with\\040space rw,relatime - ext4 /dev/vda rw",
      "160 141 254:0 /tmp/n /root/x\\012/etc/shadow rw,relatime shared:1 - ext4 /dev/vda rw",
    ]);
    const r = run(shell, `show() { printf '[%s|%s|%s|%s]\\0' "$1" "$2" "$3" "$4"; }; rw_mounts show '${mi}'`);
    expect(r.stdout.split("\0").slice(0, -1)).toEqual([
      "[/|/|rw,relatime|overlay]",
      "[/root/.kube/config|/tmp/kc|ro,relatime|ext4]",
      "[/root/with space|/tmp/a b|rw,relatime|ext4]",
      "[/root/x\n/etc/shadow|/tmp/n|rw,relatime|ext4]",
    ]);
  });

  it("rw_mounts with RW_MPICK reads the mounts below /root or the home, or holding it, and spares the others (/proc, /etc)", () => {
    const mi = mountinfoFile("mountinfo-pick", [
      "1 0 0:1 / / ro,relatime - overlay overlay rw",
      "2 1 0:2 / /proc rw - proc proc rw",
      "3 1 8:1 /x /etc/hosts rw - ext4 /dev/sda rw",
      "4 1 8:1 /k /root/.kube/config ro - ext4 /dev/sda rw",
      "5 1 0:3 / /home rw - tmpfs tmpfs rw",
      "6 1 8:1 /h /home/appuser/.kube/config ro - ext4 /dev/sda rw",
      "7 1 8:1 /o /home/appuser2 rw - ext4 /dev/sda rw",
      "8 1 8:1 /s /etc/with\\040space rw - ext4 /dev/sda rw",
      "9 1 8:1 /r /rootx rw - ext4 /dev/sda rw",
      "10 1 8:1 /t /root/with\\040space\\012x ro - ext4 /dev/sda rw",
      "11 1 8:1 / /sys ro - sysfs sysfs ro",
    ]);
    const r = run(shell, `show() { printf '%s|' "$1"; }; RW_MPICK=1; rw_mounts show '${mi}'`);
    // A superset of what rw_prepare_mount needs (it decides on the decoded point): /home/appuser2
    // and /rootx pass the one pattern test; /proc, /etc/hosts, /etc/with space and /sys do not.
    expect(r.stdout).toBe("/|/root/.kube/config|/home|/home/appuser/.kube/config|/home/appuser2|/rootx|/root/with space\nx|");
  });

  it("rw_mounts' pick never drops a mount rw_prepare needs, whatever the names, roots, options and optional fields", () => {
    // The kernel's escaping of a mountinfo field: space, tab, newline, backslash as octal.
    const esc = (p: string) => p.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
    const home = "/home/appuser";
    const needed = (p: string) => p.startsWith("/root/") || p.startsWith(`${home}/`) || home === p || `${home}/`.startsWith(`${p.replace(/\/$/, "")}/`);
    const points = ["/", "/home", home, `${home}/.kube/config`, `${home}/with space/x`, "/root/.kube/config", "/root/a b", "/root/x\ny", "/root/tab\there", "/root/back\\slash", "/root/-dash", "/root/*", "/proc", "/etc/hosts", "/rootx", "/home/appuser2", "/homex", "/srv/root/x", "/r", "/h"];
    const roots = ["/", "/var/lib/docker/volumes/v/_data", "/src with space", "/root/.kube/config"];
    const opts = ["rw", "ro", "rw,relatime", "ro,nosuid,nodev"];
    const optional = ["", " shared:1", " master:2 propagate_from:3"];
    const lines: string[] = [];
    const want: string[] = [];
    let id = 10;
    for (const p of points) {
      for (const [i, root] of roots.entries()) {
        lines.push(`${id} 1 8:1 ${esc(root)} ${esc(p)} ${opts[(id + i) % opts.length]}${optional[id % optional.length]} - ext4 /dev/sda rw`);
        if (needed(p)) want.push(p);
        id++;
      }
    }
    const mi = mountinfoFile("mountinfo-pick-all", lines);
    const r = run(shell, `show() { printf '%s\\0' "$1"; }; RW_MPICK=1; rw_mounts show '${mi}'`);
    expect(r.status).toBe(0);
    const got = r.stdout.split("\0").slice(0, -1);
    for (const p of new Set(want)) expect(got.filter((g) => g === p).length, `${JSON.stringify(p)} dropped by the pick`).toBe(want.filter((w) => w === p).length);
    // And it spares the others where the line gives it no reason (a root field that starts with
    // /r or /h passes, as the pick looks at no field in particular): /proc, /etc/hosts, /srv/root/x.
    const spared = ["/proc", "/etc/hosts", "/srv/root/x"];
    const passing = (root: string) => /^\/[rh]/.test(root);
    for (const p of spared) expect(got.filter((g) => g === p).length).toBe(roots.filter(passing).length);
  });

  it("rw_prepare_mount classifies mounts (copy, named volume, rw bind) and skips nested and foreign ones", () => {
    const mi = mountinfoFile("mountinfo-2", [
      "1 0 0:1 / / rw - overlay overlay rw",
      "2 1 8:1 /home/u/kube /root/.kube rw,relatime - ext4 /dev/sda rw",
      "3 1 8:1 /home/u/kube/config /root/.kube/config ro - ext4 /dev/sda rw",
      "4 1 8:1 /var/lib/docker/volumes/okta/_data /root/.local/share/python_keyring rw - ext4 /dev/sda rw",
      "5 1 8:1 /srv/desk /root/Desktop rw - ext4 /dev/sda rw",
      "6 1 8:1 /srv/desk2 /root/Desktop2 ro - ext4 /dev/sda rw",
      "7 1 8:1 /srv/hk /home/appuser/.kube/config ro - ext4 /dev/sda rw",
      "8 1 8:1 /srv/etc /etc/x ro - ext4 /dev/sda rw",
      "9 1 8:1 /srv/r /root rw - ext4 /dev/sda rw",
    ]);
    const r = run(shell, `rw_prepare_one() { printf '%s %s %s\\n' "$1" "$2" "$3"; }; RW_SEEN=; rw_mounts rw_prepare_mount '${mi}'`);
    expect(r.stdout).toBe(
      [
        "ROOT copy /root/.kube",
        "ROOT volume /root/.local/share/python_keyring",
        "ROOT bind /root/Desktop",
        "ROOT copy /root/Desktop2",
        "HOME copy /home/appuser/.kube/config",
        "",
      ].join("\n"),
    );
  });

  it("rw_point_table points the table's variables at a private copy of a mount over the home", () => {
    const r = run(
      shell,
      `rw_point_table /home/appuser/.kube /priv/home/.kube /home/appuser force; rw_point_table /home/appuser/.aws/config /priv/home/.aws/config /home/appuser force
       printf '%s|%s|%s|%s' "$KUBECONFIG" "$AWS_CONFIG_FILE" "\${AWS_SHARED_CREDENTIALS_FILE-unset}" "$RW_CHANGES"`,
    );
    expect(r.stdout).toBe("/priv/home/.kube/config|/priv/home/.aws/config|unset| KUBECONFIG AWS_CONFIG_FILE");
    expect(configPathLines()).toContain(".kube KUBECONFIG config");
  });

  it("rw_point_table keeps a variable the caller set to an existing path, and repoints one naming the mounted path or nothing", () => {
    const r = run(
      shell,
      `rw_point_table /home/appuser/.kube/config /priv/home/.kube/config /home/appuser force; printf '%s' "$KUBECONFIG"
       KUBECONFIG=/home/appuser/.kube/config; rw_point_table /home/appuser/.kube/config /p/c /home/appuser force; printf '|%s' "$KUBECONFIG"
       KUBECONFIG=/root/.kube/config; rw_point_table /home/appuser/.kube/config /p/d /home/appuser force; printf '|%s' "$KUBECONFIG"`,
      { KUBECONFIG: "/etc/hostname" },
    );
    expect(r.stdout).toBe("/etc/hostname|/p/c|/p/d");
  });

  it("rw_point_table repoints a variable naming where the copy would have been in the home (an image's KUBECONFIG under --read-only: finding 9)", () => {
    const r = run(
      shell,
      `rw_point_table /root/.kube/config /dev/shm/m/.kube/config /root "" /home/appuser; printf '%s' "$KUBECONFIG"
       KUBECONFIG=/etc/hostname; rw_point_table /root/.kube/config /dev/shm/m/.kube/config /root "" /home/appuser; printf '|%s' "$KUBECONFIG"`,
      { KUBECONFIG: "/home/appuser/.kube/config" },
    );
    expect(r.stdout).toBe("/dev/shm/m/.kube/config|/etc/hostname");
  });

  it("rw_rewrite_env rewrites only elements below a prepared copy (finding 9)", () => {
    const r = run(
      shell,
      `RW_COPIED_RELS="/.kube$RW_NL"; RW_CHANGES=; rw_rewrite_env /dev/shm/mcp-rewrap-1001
       printf '%s|%s|%s' "$KUBECONFIG" "$AWS_CONFIG_FILE" "$RW_CHANGES"`,
      { KUBECONFIG: "/root/.kube/config:/etc/k:/root/.kube/other", AWS_CONFIG_FILE: "/root/.aws/config" },
    );
    expect(r.stdout).toBe("/dev/shm/mcp-rewrap-1001/.kube/config:/etc/k:/dev/shm/mcp-rewrap-1001/.kube/other|/root/.aws/config| KUBECONFIG");
  });

  it("RW_FIX (the user's shell after gosu, su-exec, busybox su) puts back HOME, PWD, SHLVL, IFS, PPID, OPTIND as given and lowers the soft open-files limit", () => {
    const fix = (args: string, server: string) => run(shell, `rw_scripts; ${shell.join(" ")} -c "$RW_FIX" ${args} ${server} | LC_ALL=C /usr/bin/sort | /usr/bin/tr '\\n' '|'`);
    const env = fix("+/h +/tmp - +: +77 +9 ''", "/usr/bin/env");
    // (busybox sh exports a default PATH when it has none: env -i here, never in a container)
    expect(env.stdout.replace(/(^|\|)PATH=[^|]*\|/, "$1"), env.stderr).toBe("HOME=/h|IFS=:|OPTIND=9|PPID=77|PWD=/tmp|");
    const limit = fix("- = = - - = 100", "/bin/cat /proc/self/limits");
    expect(limit.stdout, limit.stderr).toMatch(/\|Max open files +100 /);
    const left = fix("- = = - - = ''", "/usr/bin/env");
    expect(left.stdout, left.stderr).not.toMatch(/(^|\|)(HOME|IFS|PPID|OPTIND)=/);
  });

  it("rw_environ_exact keeps the caller's PPID and OPTIND, which a shell sets at start", () => {
    const r = run(shell, `rw_env_save; rw_environ_value PPID; printf '%s|' "$?" "$RW_OUT"; rw_environ_value OPTIND; printf '%s|' "$?" "$RW_OUT"`, { PPID: "77", OPTIND: "9" });
    expect(r.stdout).toBe("0|77|0|9|");
  });

  it("rw_rewrite_env leaves a variable it does not repoint byte for byte (a leading empty element was dropped)", () => {
    const r = run(
      shell,
      `RW_COPIED_RELS="/.kube$RW_NL"; RW_CHANGES=; rw_rewrite_env /home/appuser
       printf '%s|%s|%s|%s' "$XDG_CONFIG_HOME" "$KUBECONFIG" "$AWS_CONFIG_FILE" "$RW_CHANGES"`,
      { XDG_CONFIG_HOME: ":/x", KUBECONFIG: ":/root/.kube/config::/etc/k:", AWS_CONFIG_FILE: "" },
    );
    expect(r.stdout).toBe(":/x|:/home/appuser/.kube/config::/etc/k:|| KUBECONFIG");
  });

  it("rw_repoint points every variable naming a mounted path, or a path below it, at the copy; the rest stays", () => {
    const r = run(
      shell,
      `RW_CHANGES=
       rw_repoint /home/appuser/.config/gcloud/adc.json /tmp/mcp-rewrap-1001/home/.config/gcloud/adc.json; printf '%s|' $?
       rw_repoint /home/appuser/nothing /tmp/x; printf '%s|' $?
       printf '%s|%s|%s|%s' "$GOOGLE_APPLICATION_CREDENTIALS" "$KUBECONFIG" "$XDG_CONFIG_HOME" "$RW_CHANGES"`,
      {
        GOOGLE_APPLICATION_CREDENTIALS: "/home/appuser/.config/gcloud/adc.json",
        KUBECONFIG: "/home/appuser/.config/gcloud/adc.json.bak:/home/appuser/.config/gcloud/adc.json/x",
        XDG_CONFIG_HOME: "/home/appuser/.config",
      },
    );
    expect(r.stdout).toBe(
      "0|1|/tmp/mcp-rewrap-1001/home/.config/gcloud/adc.json|/home/appuser/.config/gcloud/adc.json.bak:/tmp/mcp-rewrap-1001/home/.config/gcloud/adc.json/x|/home/appuser/.config| KUBECONFIG GOOGLE_APPLICATION_CREDENTIALS",
    );
  });

  it("rw_repoint takes a variable that holds one path whole: a mount destination with a colon (--mount) is repointed (it was split on ':' and missed); a list (KUBECONFIG) is still split", () => {
    const r = run(
      shell,
      `RW_CHANGES=
       rw_repoint /home/appuser/.config/gcloud/a:b.json /tmp/mcp-rewrap-1001/home/.config/gcloud/a:b.json; printf '%s|' $?
       printf '%s|%s|%s|%s' "$GOOGLE_APPLICATION_CREDENTIALS" "$KUBECONFIG_PATH" "$KUBECONFIG" "$RW_CHANGES"`,
      {
        GOOGLE_APPLICATION_CREDENTIALS: "/home/appuser/.config/gcloud/a:b.json",
        KUBECONFIG_PATH: "/home/appuser/.config/gcloud/a",
        KUBECONFIG: "/etc/k:/home/appuser/.config/gcloud/a:b.json",
      },
    );
    // KUBECONFIG_PATH (one path) is not below the mount; KUBECONFIG's element "b.json" is not it either.
    expect(r.stdout).toBe("0|/tmp/mcp-rewrap-1001/home/.config/gcloud/a:b.json|/home/appuser/.config/gcloud/a|/etc/k:/home/appuser/.config/gcloud/a:b.json| GOOGLE_APPLICATION_CREDENTIALS");
  });

  it("rw_groups_now adds what root has beyond its own groups (--group-add), once (finding 6)", () => {
    const r = run(shell, `RW_S_GROUPS='0 7 1001 2001 '; RW_GROUPS=1001,2001; RW_ROOT_GROUPS='0'; rw_groups_now; printf '%s|%s' "$RW_GROUPS_NOW" "$RW_ADDED"`);
    expect(r.stdout).toBe("1001,2001,7|7");
    const other = run(shell, `RW_S_GROUPS='0 7 '; RW_DROP=gosu; RW_GROUPS=1001; RW_ROOT_GROUPS='0'; rw_groups_now`);
    expect(other.stderr.trim().split("\n")).toHaveLength(1);
    expect(other.stderr).toMatch(/^mcp-rewrap: the added groups 7 \(--group-add\) cannot be given to appuser by gosu/);
  });

  it("rw_exec_env gives the command the caller's environment exactly, plus the changes (finding 7)", () => {
    // The old shim's internal names (NL, name, …) pass through; the shim's own (RW_*, rw_*), which
    // it overwrites here, get the caller's values back; so does PATH.
    const env = { A: "1", RW_UID: "0", rw_name: "caller's", RW_X: "a\tb c", NL: "x", name: "n", COPIED: "c", B: "two\nlines", HOME: "/root" };
    const r = run(
      shell,
      `exec 3>&1 1>&2; rw_env_save; rw_facts; RW_UID=5; rw_name=mine; RW_X=; PATH=/usr/bin:/bin; rw_set HOME /home/appuser; rw_set KUBECONFIG /p/k
       rw_exec_env /usr/bin/env -0`,
      env,
      false,
    );
    expect(r.status).toBe(0);
    const got = Object.fromEntries(
      r.stdout
        .split("\0")
        .slice(0, -1)
        .map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
    );
    expect(got).toEqual({ ...env, HOME: "/home/appuser", KUBECONFIG: "/p/k" });
  });

  it("the shim assigns no variable outside its namespace (RW_*, rw_*) but PATH and IFS, so it clobbers none of the caller's (finding 7)", () => {
    // The code outside quotes and comments (the single-quoted scripts run as processes of their
    // own, as the user; messages say "for a").
    const text = readFileSync(SHIM, "utf8");
    let code = "";
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (c === "\\") i++;
      else if (c === "'") i = text.indexOf("'", i + 1);
      else if (c === '"') {
        for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      } else if (c === "#" && /[\s;]/.test(text[i - 1] ?? "\n")) i = text.indexOf("\n", i) - 1;
      else code += c;
    }
    const names = new Set<string>();
    for (const m of code.matchAll(/(?:^|[\s;&|({])([A-Za-z_][A-Za-z0-9_]*)=/g)) names.add(m[1]!);
    for (const m of code.matchAll(/\bfor\s+([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]!);
    for (const m of code.matchAll(/\bread\s+(?:-r\s+)?([A-Za-z_][A-Za-z0-9_ ]*)/g)) for (const n of m[1]!.split(/\s+/)) if (n) names.add(n);
    expect(names.size).toBeGreaterThan(50);
    expect([...names].filter((n) => !/^(RW_|rw_)/.test(n)).sort()).toEqual(["IFS", "PATH"]);
  });

  it("rw_exec_env gives back a newline inside a value the exact reader handles (IFS's usual value, RW_*)", () => {
    // rw_environ_exact runs when the environment holds IFS=, PWD=, SHLVL=, RW_ or rw_: its tr sent
    // a value's newline as \001, which reached the server.
    const env = { PATH: "/usr/bin:/bin", IFS: " \t\n", RW_X: "a\nb\n", rw_y: "\nc" };
    const r = run(shell, `exec 3>&1 1>&2; rw_env_save; rw_facts; rw_exec_env /usr/bin/env -0`, env, false);
    expect(r.status, r.stderr).toBe(0);
    const got = Object.fromEntries(
      r.stdout
        .split("\0")
        .slice(0, -1)
        .map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
    );
    expect(got).toEqual(env);
  });

  it("a mount point with a newline in its name is not prepared, with one line; it no longer hides the real mount it names (rw_prepare_mount)", () => {
    const mi = mountinfoFile(`nl-point-${shell.length}`, [
      "1 0 0:1 / / rw - overlay overlay rw",
      "2 1 8:1 /a /root/x\\012/root/.kube rw - ext4 /dev/sda rw",
      "3 1 8:1 /b /root/.kube/config ro - ext4 /dev/sda rw",
    ]);
    const r = run(shell, `rw_prepare_one() { printf '%s %s [%s]\n' "$@"; }; rw_mounts rw_prepare_mount ${mi}`);
    expect(r.stdout).toBe("ROOT copy [/root/.kube/config]\n");
    expect(r.stderr).toBe("mcp-rewrap: /root/x<newline>...: a mount point with a newline in its name is not prepared for appuser; rename it\n");
  });

  it("rw_exec_env keeps PATH, PWD and SHLVL exactly as the caller gave them", () => {
    const r = run(shell, `exec 3>&1 1>&2; rw_env_save; rw_facts; rw_exec_env /usr/bin/env -0`, { PATH: "/x:/usr/bin", SHLVL: "4", PWD: "/nowhere" }, false);
    const got = r.stdout.split("\0").slice(0, -1).sort();
    expect(got).toEqual(["PATH=/x:/usr/bin", "PWD=/nowhere", "SHLVL=4"]);
  });

  it("rw_tar_members: one stream, byte-safe names, links stored not followed, FIFOs skipped and never opened (findings 3, 12, 13)", () => {
    const d = freshDir("tree");
    mkdirSync(join(d, "sub"));
    writeFileSync(join(d, "plain"), "a");
    writeFileSync(join(d, "new\nline"), "b");
    writeFileSync(join(d, "y\n"), "c");
    // Finding 3: an entry that a newline-split list would read as "x" and "/etc/shadow".
    mkdirSync(join(d, "x\n", "etc"), { recursive: true });
    writeFileSync(join(d, "x\n", "etc", "shadow"), "not the real one");
    writeFileSync(join(d, "-n"), "d");
    writeFileSync(join(d, "*"), "e");
    writeFileSync(join(d, ".hidden"), "f");
    writeFileSync(join(d, "sub", "deep"), "g");
    symlinkSync("/etc/passwd", join(d, "link"));
    spawnSync("mkfifo", [join(d, "fifo"), join(d, "sub", "fifo2")]);
    // GNU tar lists a newline in a name as \n (its default escape quoting).
    const r = run(shell, `(rw_tar_members '${d}') | /usr/bin/tar -t -v -f - | LC_ALL=C sort -k6`);
    expect(r.status).toBe(0);
    expect(r.stderr.trim().split("\n")).toEqual(["mcp-rewrap: skipped 2 FIFO(s), device(s) or socket(s) in a mounted directory: not copied, never opened"]);
    const entries = r.stdout.trim().split("\n").map((l) => l.split(/\s+/).slice(5).join(" "));
    expect(entries.sort()).toEqual(["./*", "./-n", "./.hidden", "./link -> /etc/passwd", "./new\\nline", "./plain", "./sub/", "./sub/deep", "./x\\n/", "./x\\n/etc/", "./x\\n/etc/shadow", "./y\\n"]);
    expect(r.stdout).not.toMatch(/^\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+\/etc\/shadow$/m);
  });

  it("rw_put_first copies a tree for the user into a temporary name, then renames it; a second run replaces it", () => {
    const src = freshDir("src");
    mkdirSync(join(src, "d"));
    writeFileSync(join(src, "config"), "one");
    writeFileSync(join(src, "d", "f"), "two", { mode: 0o644 });
    const home = freshDir("home");
    const script = `rw_as_user() { [ "$1" != -x ] || shift; "$@" 3>&-; }; RW_HOME='${home}'; RW_HOME_OK=1; rw_put_first '${src}' /.kube; echo "rc=$? where=$RW_WHERE"`;
    const r = run(shell, script);
    expect(r.stdout).toBe(`rc=0 where=${home}\n`);
    expect(readFileSync(join(home, ".kube", "config"), "utf8")).toBe("one");
    expect(readFileSync(join(home, ".kube", "d", "f"), "utf8")).toBe("two");
    expect(readdirSync(home)).toEqual([".kube"]);
    writeFileSync(join(src, "config"), "new");
    // A temporary copy left by an interrupted start is replaced, not merged.
    mkdirSync(join(home, ".kube.mcp-rewrap-new"));
    writeFileSync(join(home, ".kube.mcp-rewrap-new", "stale"), "x");
    expect(run(shell, script).stdout).toBe(`rc=0 where=${home}\n`);
    expect(existsSync(join(home, ".kube", "stale"))).toBe(false);
    expect(readFileSync(join(home, ".kube", "config"), "utf8")).toBe("new");
    expect(readdirSync(home)).toEqual([".kube"]);
  });

  it("rw_put_first falls back to a private directory when the home cannot be written", () => {
    const src = join(freshDir("srcf"), "config");
    writeFileSync(src, "cfg");
    const r = run(shell, `rw_as_user() { [ "$1" != -x ] || shift; "$@" 3>&-; }; RW_UID=test$$; RW_HOME=/proc/nonexistent; RW_HOME_OK=1; rw_put_first '${src}' /.kube/config; echo "rc=$? where=$RW_WHERE"; rm -rf "$RW_WHERE"`);
    expect(r.stdout).toMatch(/^rc=0 where=\/tmp\/mcp-rewrap-test\d+\n$/);
  });

  it("a file the user can read where it is is left alone (exit 5); a FIFO is never opened (exit 6)", () => {
    const dir = freshDir("inplace");
    writeFileSync(join(dir, "c"), "x");
    spawnSync("mkfifo", [join(dir, "p")]);
    const r = run(shell, `rw_as_user() { [ "$1" != -x ] || shift; "$@" 3>&-; }; RW_HOME='${dir}/h'; RW_HOME_OK=1; rw_put_first '${dir}/c' /c '${dir}/c'; echo "rc=$?"; rw_put_first '${dir}/p' /p; echo "rc=$?"`);
    expect(r.stdout).toBe("rc=5\nrc=6\n");
    expect(r.stderr).toBe(`mcp-rewrap: skipped ${dir}/p: a FIFO, device or socket is never opened\n`);
    expect(existsSync(join(dir, "h"))).toBe(false);
  });

  it("a failed copy leaves nothing behind (finding 10)", () => {
    const home = freshDir("fail");
    const src = freshDir("failsrc");
    writeFileSync(join(src, "a"), "a");
    // The root half fails (tar cannot be run): the user's half must not rename a partial tree.
    const r = run(shell, `rw_as_user() { [ "$1" != -x ] || shift; "$@" 3>&-; }; RW_TAR=/nonexistent/tar; RW_HOME='${home}'; RW_HOME_OK=1; rw_put_first '${src}' /.kube; echo "rc=$?"`);
    expect(r.stdout).toBe("rc=4\n");
    expect(readdirSync(home)).toEqual([]);
  });

  it("copies 10,000 files with as many processes as 10 files take (finding 8; its time is make bench's)", () => {
    // Each copy runs in a PID namespace of its own: the PID a process gets there afterwards tells
    // how many processes the copy started.
    const processesFor = (files: number): number => {
      const src = freshDir(`many${files}`);
      for (let i = 0; i < files / 100 || i === 0; i++) {
        mkdirSync(join(src, `d${i}`));
        for (let j = 0; j < Math.min(files, 100); j++) writeFileSync(join(src, `d${i}`, `f${j}`), `${i}-${j}`);
      }
      const home = freshDir(`manyhome${files}`);
      const r = spawnSync(
        "/usr/bin/unshare",
        ["--pid", "--fork", "--mount-proc", ...shell, "-c", `. "$0"; rw_facts; rw_as_user() { [ "$1" != -x ] || shift; "$@" 3>&-; }; RW_HOME='${home}'; RW_HOME_OK=1; rw_put_first '${src}' /.kube; echo "rc=$?"; /bin/sh -c 'echo $$'; exit 0`, SHIM],
        { encoding: "utf8", timeout: 120_000 },
      );
      expect(r.stdout.split("\n")[0], r.stderr).toBe("rc=0");
      const last = Math.floor((files - 1) / 100);
      expect(readFileSync(join(home, ".kube", `d${last}`, `f${Math.min(files, 100) - 1}`), "utf8")).toBe(`${last}-${Math.min(files, 100) - 1}`);
      return Number(r.stdout.split("\n")[1]);
    };
    const few = processesFor(10);
    expect(few).toBeGreaterThan(3);
    expect(processesFor(10_000)).toBe(few);
  });

  it("rw_copy_dev: root copies a table file mounted below /root or over the home into /dev (0644, the caller's umask kept) and points its variable there; anything else is left to the user's copy", () => {
    const dir = freshDir("devcopy");
    const dev = join(dir, "dev");
    mkdirSync(dev, { mode: 0o755 });
    const src = join(dir, "kubeconfig");
    writeFileSync(src, "apiVersion: v1\n# no newline at the end", { mode: 0o600 });
    const q = shellQuote;
    const pre = `RW_DEV=${q(dev)}; RW_S_UMASK=0027; RW_HOME=/home/appuser; umask 0027`;
    const show = `printf '%s|%s|%s|' "$KUBECONFIG" "$AWS_CONFIG_FILE" "$(umask)"; printf '%s' "$RW_CHANGES"`;
    // Unset: pointed at the copy; the copy is byte for byte, 0644.
    const r = run(shell, `${pre}; rw_copy_dev ${q(src)} /.kube/config ROOT || exit 9; ${show}`);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`${dev}/mcp-rewrap-kube-config||0027| KUBECONFIG`);
    expect(readFileSync(join(dev, "mcp-rewrap-kube-config"), "utf8")).toBe("apiVersion: v1\n# no newline at the end");
    expect(statSync(join(dev, "mcp-rewrap-kube-config")).mode & 0o7777).toBe(0o644);
    // Again (a later start in the same container): root's own file is rewritten.
    writeFileSync(src, "second\n");
    expect(run(shell, `${pre}; rw_copy_dev ${q(src)} /.kube/config ROOT && echo ok`).stdout).toBe("ok\n");
    expect(readFileSync(join(dev, "mcp-rewrap-kube-config"), "utf8")).toBe("second\n");
    // The same file mounted at both sites in one start: the first copy stays, the second is refused.
    const other = join(dir, "other");
    writeFileSync(other, "other\n");
    const both = run(shell, `${pre}; rw_copy_dev ${q(src)} /.kube/config ROOT || exit 9; rw_copy_dev ${q(other)} /.kube/config HOME && echo copied; ${show}`);
    expect(both.stdout).toBe(`${dev}/mcp-rewrap-kube-config||0027| KUBECONFIG`);
    expect(readFileSync(join(dev, "mcp-rewrap-kube-config"), "utf8")).toBe("second\n");
    // A caller's value naming the mount (alone or in a list) is repointed; the image's value naming the
    // home's copy is repointed; one naming another existing file is kept.
    const cases: [Record<string, string>, string][] = [
      [{ KUBECONFIG: src }, `${dev}/mcp-rewrap-kube-config`],
      [{ KUBECONFIG: `/etc/k:${src}` }, `/etc/k:${dev}/mcp-rewrap-kube-config`],
      [{ KUBECONFIG: "/home/appuser/.kube/config" }, `${dev}/mcp-rewrap-kube-config`],
      [{ KUBECONFIG: "/etc/hostname" }, "/etc/hostname"],
    ];
    for (const [env, want] of cases) {
      const c = run(shell, `${pre}; rw_copy_dev ${q(src)} /.kube/config ROOT || exit 9; printf '%s' "$KUBECONFIG"`, env);
      expect(c.stdout, JSON.stringify(env)).toBe(want);
    }
    // Over the home (today's catalog): a value naming the mount, or a single path that does not
    // exist, is repointed; one naming another existing file is kept.
    const home: [Record<string, string>, string][] = [
      [{}, `${dev}/mcp-rewrap-kube-config`],
      [{ KUBECONFIG: "/home/appuser/.kube/config" }, `${dev}/mcp-rewrap-kube-config`],
      [{ KUBECONFIG: "/nonexistent/config" }, `${dev}/mcp-rewrap-kube-config`],
      [{ KUBECONFIG: "/etc/hostname" }, "/etc/hostname"],
    ];
    for (const [env, want] of home) {
      const c = run(shell, `${pre}; rw_copy_dev ${q(src)} /.kube/config HOME || exit 9; printf '%s' "$KUBECONFIG"`, env);
      expect(c.stdout, `home ${JSON.stringify(env)}`).toBe(want);
    }
    // The two .aws files each have their own name and variable.
    const aws = run(shell, `${pre}; rw_copy_dev ${q(src)} /.aws/config ROOT && rw_copy_dev /etc/hostname /.aws/credentials ROOT || exit 9; printf '%s|%s' "$AWS_CONFIG_FILE" "$AWS_SHARED_CREDENTIALS_FILE"`);
    expect(aws.stdout).toBe(`${dev}/mcp-rewrap-aws-config|${dev}/mcp-rewrap-aws-credentials`);
    // Not for it (returns 1, nothing made, nothing pointed): a path no variable names on its own (a
    // directory's variable, a file outside the table), a directory, a FIFO (never opened), a link.
    spawnSync("mkfifo", [join(dir, "fifo")]);
    symlinkSync(src, join(dir, "link"));
    const others = [
      [src, "/.docker/config.json"],
      [src, "/.netrc"],
      [dir, "/.kube/config"],
      [join(dir, "fifo"), "/.kube/config"],
      [join(dir, "link"), "/.kube/config"],
    ];
    rmSync(dev, { recursive: true });
    mkdirSync(dev, { mode: 0o755 });
    for (const [from, rel] of others) {
      const o = run(shell, `${pre}; rw_copy_dev ${q(from!)} ${q(rel!)} ROOT && echo copied; ${show}`);
      expect(o.stdout, `${from} ${rel}`).toBe("||0027|");
    }
    expect(readdirSync(dev)).toEqual([]);
    // A name in /dev that is not root's regular file (a link) is never written through.
    symlinkSync(join(dir, "victim"), join(dev, "mcp-rewrap-kube-config"));
    expect(run(shell, `${pre}; rw_copy_dev ${q(src)} /.kube/config ROOT && echo copied; ${show}`).stdout).toBe("||0027|");
    expect(existsSync(join(dir, "victim"))).toBe(false);
    rmSync(join(dev, "mcp-rewrap-kube-config"));
    // Nor one the kernel lists as a mount point (a host file bound there by the caller).
    writeFileSync(join(dev, "mcp-rewrap-kube-config"), "host file\n");
    const mounted = run(shell, `${pre}; RW_MOUNTINFO="1 2 0:3 /host/f ${dev}/mcp-rewrap-kube-config rw - ext4 /dev/sda rw"; rw_copy_dev ${q(src)} /.kube/config ROOT && echo copied; ${show}`);
    expect(mounted.stdout).toBe("||0027|");
    expect(readFileSync(join(dev, "mcp-rewrap-kube-config"), "utf8")).toBe("host file\n");
    rmSync(join(dev, "mcp-rewrap-kube-config"));
    // A failed read leaves nothing behind (a regular file whose read fails: clear_refs is write-only, root opens it all the same); a sticky RW_DEV is refused.
    const failed = run(shell, `${pre}; rw_copy_dev /proc/self/clear_refs /.kube/config ROOT && echo copied; ${show}`);
    expect(failed.stdout).toBe("||0027|");
    expect(readdirSync(dev)).toEqual([]);
    spawnSync("chmod", ["1777", dev]);
    expect(run(shell, `${pre}; rw_copy_dev ${q(src)} /.kube/config ROOT && echo copied; ${show}`).stdout).toBe("||0027|");
    expect(readdirSync(dev)).toEqual([]);
  });

  it("rw_defer: a mounted file for a home root does not own is copied by literal code the final shell runs (names byte for byte); a read-only home undoes it", () => {
    const dir = freshDir("defer");
    const home = join(dir, "h o'me");
    mkdirSync(home);
    spawnSync("chown", ["4242:4242", home]);
    const src = join(dir, "kube config");
    writeFileSync(src, "apiVersion: v1\n");
    const q = shellQuote;
    const script = `RW_DROP=setpriv; RW_S_UMASK=0022; RW_HOME=${q(home)}; RW_HOME_OK=1
      rw_defer_root '${src}' '/.kube/it'"'"'s' || exit 9
      rw_defer_root /etc/hostname /.kube/two || exit 9
      printf '%s' "$RW_LATE" >'${dir}/late.sh'
      rw_copy_root() { printf 'now %s -> %s\n' "$1" "$2"; }
      RW_HOME_MOPTS=ro; rw_undefer; printf 'late=[%s]\n' "$RW_LATE"`;
    const r = run(shell, script);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`now ${src} -> /.kube/it's\nnow /etc/hostname -> /.kube/two\nlate=[]\n`);
    // The code as the final shell runs it (descriptors 4 and 5 opened by root, here by the test).
    const late = readFileSync(join(dir, "late.sh"), "utf8");
    const ran = spawnSync(shell[0]!, [...shell.slice(1), "-c", `exec 4<'${src}' 5</etc/hostname; umask 077; ${late} ls -A ${q(home)}/.kube`], { encoding: "utf8" });
    expect(ran.stderr).toBe("");
    expect(ran.stdout.split("\n").filter(Boolean).sort()).toEqual(["it's", "two"]);
    expect(readFileSync(join(home, ".kube", "it's"), "utf8")).toBe("apiVersion: v1\n");
    // A copy made now meanwhile (another mount) leaves the deferred descriptor alone.
    const kept = run(shell, `RW_DROP=setpriv; RW_S_UMASK=0022; RW_HOME=${q(home)}; RW_HOME_OK=1; rw_as_user() { [ "$1" != -x ] || shift; "$@" 3>&-; }
      rw_defer_root '${src}' /three || exit 9; rw_put_file /etc/hostname ${q(home)}/other; echo "rc=$?"; cat <&4`);
    expect(kept.stdout).toBe("rc=0\napiVersion: v1\n");
    // Not deferred: a root-owned home, a directory, no setpriv.
    const no = run(shell, `RW_DROP=setpriv; RW_S_UMASK=0022; RW_HOME_OK=1; RW_HOME='${dir}'; rw_defer_root '${src}' /x && echo deferred; RW_HOME=${q(home)}; rw_defer_root '${dir}' /y && echo deferred; RW_HOME=${q(home)}; RW_DROP=gosu; rw_defer_root '${src}' /z && echo deferred; RW_DROP=setpriv; RW_HOME_OK=; rw_defer_root '${src}' /w && echo deferred; echo done`);
    expect(no.stdout).toBe("done\n");
  });

  it("rw_defer_home: a table file mounted over the home is copied to /tmp by the final shell as the user and KUBECONFIG names it; read in place, or a failed copy, puts the caller's KUBECONFIG back", () => {
    // A uid of its own per shell: the copy lands in /tmp/mcp-rewrap-UID (the real /tmp, sticky).
    const uid = shell[0] === "/bin/dash" ? 42471 : 42472;
    const priv = `/tmp/mcp-rewrap-${uid}`;
    const copy = `${priv}/home/.kube/config`;
    rmSync(priv, { recursive: true, force: true });
    // Searchable by that uid (the suite's own directory is not), a home whose name needs quoting.
    const dir = mkdtempSync(join(tmpdir(), "mcp-rewrap-defer-home-"));
    spawnSync("chmod", ["0755", dir]);
    const home = join(dir, "h o'me");
    mkdirSync(join(home, ".kube"), { recursive: true });
    const src = join(home, ".kube", "config");
    const q = shellQuote;
    const late = join(dir, "late.sh");
    // Root's half: KUBECONFIG as the caller set it (or not), then the code the final shell runs.
    const prepare = (env: string, extra = "") =>
      run(
        shell,
        `${env}RW_DROP=setpriv; RW_S_UMASK=0022; RW_UID=${uid}; RW_HOME=${q(home)}; RW_SLASH_MOPTS=rw,relatime; ${extra}
        rw_defer_home ${q(src)} || { printf 'not deferred K=%s|%s' "\${KUBECONFIG-unset}" "$RW_CHANGES"; exit 0; }
        printf 'K=%s|%s' "\${KUBECONFIG-unset}" "$RW_CHANGES"; printf '%s' "$RW_LATE_T" >'${late}'`,
      );
    // The user's half: descriptor 4 opened by root (here, the test), KUBECONFIG as root exported
    // it (here, a stand-in), then the code as uid ${uid}.
    const userRun = () =>
      spawnSync("/bin/sh", ["-c", `exec 4<${q(src)}; exec setpriv --reuid=${uid} --regid=${uid} --clear-groups -- ${shell.join(" ")} -c '. "$0"; printf "K=%s" "\${KUBECONFIG-unset}"' '${late}'`], {
        encoding: "utf8",
        env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", KUBECONFIG: "/stand-in" },
      });
    try {
      // A 0600 root-owned file: copied, and KUBECONFIG (unset by the caller) names the copy.
      writeFileSync(src, "apiVersion: v1\nclusters: []\n", { mode: 0o600 });
      const r = prepare("unset KUBECONFIG; ");
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe(`K=${copy}| KUBECONFIG`);
      const ran = userRun();
      expect(ran.stderr).toBe("");
      expect(ran.stdout).toBe("K=/stand-in");
      expect(readFileSync(copy, "utf8")).toBe("apiVersion: v1\nclusters: []\n");
      // Readable in place (a 0644 host file): nothing copied, the caller's value comes back.
      rmSync(priv, { recursive: true, force: true });
      spawnSync("chmod", ["0644", src]);
      expect(prepare("KUBECONFIG=/elsewhere; export KUBECONFIG; ").stdout).toBe(`K=${copy}| KUBECONFIG`);
      const inPlace = userRun();
      expect(inPlace.stderr).toBe("");
      expect(inPlace.stdout).toBe("K=/elsewhere");
      expect(existsSync(priv)).toBe(false);
      // The copy fails (the private directory is not the user's): one line, no file, KUBECONFIG unset again.
      spawnSync("chmod", ["0600", src]);
      expect(prepare("unset KUBECONFIG; ").stdout).toBe(`K=${copy}| KUBECONFIG`);
      mkdirSync(priv, { mode: 0o700 });
      const failed = userRun();
      expect(failed.stderr).toBe(`mcp-rewrap: cannot copy ${src} to ${copy} for appuser; the server starts without it\n`);
      expect(failed.stdout).toBe("K=unset");
      // Another mount changed another variable first (aks: ~/.azure, then ~/.kube/config): still
      // deferred, and the user's shell puts back only what this mount changed.
      rmSync(priv, { recursive: true, force: true });
      expect(prepare("unset KUBECONFIG; ", "rw_set AZURE_CONFIG_DIR /tmp/x/.azure").stdout).toBe(`K=${copy}| AZURE_CONFIG_DIR KUBECONFIG`);
      expect(readFileSync(late, "utf8")).not.toContain("AZURE_CONFIG_DIR");
      // Not deferred, nothing changed: a read-only root filesystem; KUBECONFIG changed before (a
      // copy that is not there) and changed again by this mount: the undo could not put it back.
      expect(prepare("unset KUBECONFIG; ", "RW_SLASH_MOPTS=ro").stdout).toBe("not deferred K=unset|");
      expect(prepare("unset KUBECONFIG; ", "rw_set KUBECONFIG /gone/config").stdout).toBe("not deferred K=/gone/config| KUBECONFIG");
    } finally {
      rmSync(priv, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("SIGTERM during a long copy ends the shell at once (the copy runs in the background, wait is interrupted)", () => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(
      "/usr/bin/env",
      [
        "-i",
        ...shell,
        "-c",
        `. "$0"; rw_facts; trap 'exit 143' TERM; rw_as_user() { exec sleep 30 >/dev/null 2>&1; }; (sleep 0.3; kill -TERM $$) >/dev/null 2>&1 & rw_put_first /etc/hostname /x; echo not-reached`,
        SHIM,
      ],
      { encoding: "utf8", timeout: 10_000 },
    );
    expect(Number(process.hrtime.bigint() - t0) / 1e6).toBeLessThan(3000);
    expect(r.status).toBe(143);
    expect(r.stdout).toBe("");
  });
});
