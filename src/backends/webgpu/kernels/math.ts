/**
 * WGSL for the element-wise functions of the cpu kernels (src/backends/cpu/kernels/elementwise.ts),
 * in float32. Where WGSL's built-in is not accurate enough for parity (erf does not exist, tanh
 * loses relative accuracy near 0 on some drivers, pow is undefined for negative bases) the
 * function is written out here. NaN propagation is not guaranteed: WGSL lets compilers assume
 * no NaN.
 */

/** Helper functions every element-wise program includes. */
export const MATH_WGSL = /* wgsl */ `
fn erf_(x: f32) -> f32 {
  // W. J. Cody's rational approximations, as the cpu kernel.
  let ax = abs(x);
  if (ax < 0.5) {
    let t = x * x;
    let num = (((0.185777706184603153 * t + 3.16112374387056560) * t + 113.864154151050156) * t + 377.485237685302021) * t + 3209.37758913846947;
    let den = (((t + 23.6012909523441209) * t + 244.024637934444173) * t + 1282.61652607737228) * t + 2844.23683343917062;
    return x * num / den;
  }
  var r: f32;
  if (ax < 4.0) {
    let num = ((((((0.564188496988670089 * ax + 8.88314979438837594) * ax + 66.1191906371416295) * ax + 298.635138197400131) * ax + 881.952221241769090) * ax + 1712.04761263407058) * ax + 2051.07837782607147) * ax + 1230.33935479799725 + 2.15311535474403846e-8 * pow(ax, 8.0);
    let den = (((((((ax + 15.7449261107098347) * ax + 117.693950891312499) * ax + 537.181101862009858) * ax + 1621.38957456669019) * ax + 3290.79923573345963) * ax + 4362.61909014324716) * ax + 3439.36767414372164) * ax + 1230.33935480374942;
    r = 1.0 - exp(-ax * ax) * (num / den);
  } else {
    let z = 1.0 / (ax * ax);
    let num = ((((0.0163153871373020978 * z + 0.305326634961232344) * z + 0.360344899949804439) * z + 0.125781726111229246) * z + 0.0160837851487422766) * z + 0.000658749161529837803;
    let den = ((((z + 2.56852019228982242) * z + 1.87295284992346725) * z + 0.527905102951428412) * z + 0.0605183413124413191) * z + 0.00233520497626869185;
    r = 1.0 - (exp(-ax * ax) / ax) * (0.564189583547756287 - z * (num / den));
  }
  return select(r, -r, x < 0.0);
}

fn tanh_(x: f32) -> f32 {
  let a = abs(x);
  var t: f32;
  if (a < 0.125) {
    // Taylor series: exp-based formulas cancel badly near 0.
    let a2 = a * a;
    t = a * (1.0 + a2 * (-0.333333333333 + a2 * (0.133333333333 + a2 * (-0.0539682539683))));
  } else {
    let e = exp(-2.0 * a);
    t = (1.0 - e) / (1.0 + e);
  }
  return select(t, -t, x < 0.0);
}

// A runtime NaN: a NaN constant expression is a shader-creation error in WGSL.
fn nan_() -> f32 { var bits = 0x7fc00000u; return bitcast<f32>(bits); }

fn sigmoid_(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }

fn pow_(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (b == 1.0) { return a; }
  if (b == 2.0) { return a * a; }
  if (b == 0.5) { return sqrt(a); }
  if (b == -0.5) { return 1.0 / sqrt(a); }
  if (b == -1.0) { return 1.0 / a; }
  if (a >= 0.0) { return pow(a, b); }
  // Negative base: defined for integer exponents only (as Math.pow).
  if (b != round(b)) { return nan_(); }
  let r = pow(-a, b);
  let odd = abs(b - 2.0 * floor(b * 0.5)) == 1.0;
  return select(r, -r, odd);
}
`;

/** WGSL expressions of the 'unary' kernel's ops, in terms of an f32 `x`. */
export const UNARY_EXPR: Record<string, string> = {
  neg: '-x',
  exp: 'exp(x)',
  log: 'log(x)',
  sqrt: 'sqrt(x)',
  rsqrt: '1.0 / sqrt(x)',
  abs: 'abs(x)',
  square: 'x * x',
  sign: 'sign(x)',
  reciprocal: '1.0 / x',
  relu: 'select(0.0, x, x > 0.0)',
  relu6: 'clamp(x, 0.0, 6.0)',
  sigmoid: 'sigmoid_(x)',
  tanh: 'tanh_(x)',
  silu: 'x / (1.0 + exp(-x))',
  gelu: '0.5 * x * (1.0 + erf_(x * 0.7071067811865476))',
  hardswish: 'x * clamp(x + 3.0, 0.0, 6.0) / 6.0',
  hardsigmoid: 'clamp(x + 3.0, 0.0, 6.0) / 6.0',
};

/** WGSL expressions of f'(x) for the 'unaryGrad' kernel's ops (dx = dy * f'(x)). */
export const UNARY_GRAD_EXPR: Record<string, string> = {
  relu: 'select(0.0, 1.0, x > 0.0)',
  relu6: 'select(0.0, 1.0, x > 0.0 && x < 6.0)',
  sigmoid: 'sigmoid_(x) * (1.0 - sigmoid_(x))',
  tanh: '1.0 - tanh_(x) * tanh_(x)',
  silu: 'sigmoid_(x) * (1.0 + x * (1.0 - sigmoid_(x)))',
  gelu: '0.5 * (1.0 + erf_(x * 0.7071067811865476)) + x * 0.3989422804014327 * exp(-0.5 * x * x)',
  hardswish: 'select(select(1.0, x / 3.0 + 0.5, x <= 3.0), 0.0, x < -3.0)',
  hardsigmoid: 'select(0.0, 1.0 / 6.0, x > -3.0 && x < 3.0)',
};

export function unaryExpr(op: string): string {
  const e = UNARY_EXPR[op];
  if (!e) throw new Error(`unary: unknown op '${op}' on the webgpu backend; known: ${Object.keys(UNARY_EXPR).join(', ')}`);
  return e;
}

export function unaryGradExpr(op: string): string {
  const e = UNARY_GRAD_EXPR[op];
  if (!e) throw new Error(`unaryGrad: unknown op '${op}' on the webgpu backend; known: ${Object.keys(UNARY_GRAD_EXPR).join(', ')}`);
  return e;
}
