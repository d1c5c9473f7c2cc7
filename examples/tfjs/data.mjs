/**
 * The data set both scripts use: "two moons", two interleaving half circles with noise, made
 * from a fixed seed so every run (and the inference script) sees the same points.
 */

/**
 * A small seeded generator (mulberry32): same seed, same numbers, on every machine.
 *
 * @example
 * const random = seededRandom(1);
 * random(); // a number in [0, 1), the same one every time
 */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A normally distributed number (Box-Muller) from a uniform generator. */
function gaussian(random) {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Points of two half moons: label 0 on the upper one, 1 on the lower one. Returns plain arrays
 * (`xs`: [x, y] pairs, `ys`: 0 or 1) so the caller decides how to make tensors of them.
 *
 * @example
 * const { xs, ys } = twoMoons({ samples: 1000, noise: 0.15, seed: 1 });
 */
export function twoMoons({ samples = 1000, noise = 0.15, seed = 1 } = {}) {
  const random = seededRandom(seed);
  const xs = [];
  const ys = [];
  for (let i = 0; i < samples; i++) {
    const label = i % 2;
    const angle = Math.PI * random();
    const x = label === 0 ? Math.cos(angle) : 1 - Math.cos(angle);
    const y = label === 0 ? Math.sin(angle) : 0.5 - Math.sin(angle);
    xs.push([x + noise * gaussian(random), y + noise * gaussian(random)]);
    ys.push(label);
  }
  return { xs, ys };
}
