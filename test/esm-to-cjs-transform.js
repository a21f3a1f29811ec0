/**
 * Jest loads modules as CommonJS. A few dependencies ship ES modules only (hyparquet, and uuid 13 used by
 * parquetjs's thrift); esbuild turns those into CommonJS for the tests. Node itself loads them natively.
 */
const { transformSync } = require('esbuild');

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, { format: 'cjs', loader: 'js', sourcefile: filename, target: 'node20', sourcemap: 'external' });
    return { code, map };
  },
};
