/**
 * Jest loads modules as CommonJS. Two dependencies ship ES modules only (hyparquet and hyparquet-writer);
 * esbuild turns those into CommonJS for the tests. Node itself loads them natively.
 */
const { transformSync } = require('esbuild');

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, { format: 'cjs', loader: 'js', sourcefile: filename, target: 'node20', sourcemap: 'external' });
    return { code, map };
  },
};
