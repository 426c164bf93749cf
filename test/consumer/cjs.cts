// A CommonJS consumer (compiled to cjs.cjs): require() of the ESM package, Node >= 20.19.
import moeRouter = require('moe-router');

const moe = new moeRouter.SwitchedMoE({ numExperts: 3, complexityThreshold: 0.6 });
const expert: number = moe.route('Python');
const complexity: number = moe.computeComplexity('Python');

// require() and import() must give the same module: one copy of the classes (instanceof works across both).
void import('moe-router').then((esm) => {
  console.log(JSON.stringify({ expert, complexity, sameModule: esm.SwitchedMoE === moeRouter.SwitchedMoE, exports: Object.keys(moeRouter).sort() }));
});
