/** The feature specification (spec.ts) and its SQL compiler (compile.ts). */
export * from './spec';
export * from './compile';
