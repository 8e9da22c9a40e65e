const ts = [performance.now()]; const lap = () => { ts.push(performance.now()); return (ts.at(-1) - ts.at(-2)).toFixed(1); };
const facts = JSON.parse((await import("node:fs")).readFileSync("/tmp/startup-helper/ctx/k/facts.json", "utf8"));
const shared = await import("./dist/src/commands/shared.js"); const a = lap();
const plan = shared.planFor(facts, { tag: "x/y:z" }); const b = lap();
await import("handlebars"); const c = lap();
await import("./dist/src/core/render.js"); const d = lap();
const files = await shared.renderFiles(plan, facts, {}); const e = lap();
await shared.renderFiles(plan, facts, {}); const f = lap();
console.log(`shared ${a} plan ${b} handlebars ${c} render+mutate+tar ${d} render1 ${e} render2 ${f}`);
