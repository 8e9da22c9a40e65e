/**
 * Pure: may a process with this uid and these groups enter, read or write a file, given its
 * owner, group and mode? The kernel's rule (no ACLs): the owner class applies when the uid
 * owns it, else the group class when any group matches, else other. uid 0 may do anything
 * (CAP_DAC_OVERRIDE, which the gateway's containers keep).
 */

export interface Who {
  uid: number;
  /** Primary gid first, then supplementary groups. */
  groups: number[];
}

export interface Owned {
  uid: number;
  gid: number;
  /** Permission bits (0o7777 mask). */
  mode: number;
}

/** The permission class bits (r=4, w=2, x=1) that apply to `who` on `f`. */
export function classBits(who: Who, f: Owned): number {
  if (who.uid === f.uid) return (f.mode >> 6) & 7;
  if (who.groups.includes(f.gid)) return (f.mode >> 3) & 7;
  return f.mode & 7;
}

export function may(who: Who, f: Owned, want: "r" | "w" | "x" | "rx"): boolean {
  if (who.uid === 0) return true;
  const bits = classBits(who, f);
  const need = want === "r" ? 4 : want === "w" ? 2 : want === "x" ? 1 : 5;
  return (bits & need) === need;
}

export const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, "0");

export function describeOwned(f: Owned, users?: (uid: number) => string | undefined): string {
  const name = users?.(f.uid);
  return `mode ${octal(f.mode)}, owner uid ${f.uid}${name ? ` (${name})` : ""}, gid ${f.gid}`;
}
