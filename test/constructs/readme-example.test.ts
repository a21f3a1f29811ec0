import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const root = path.resolve(__dirname, '../..');

/** The TypeScript block under a README heading. */
function exampleUnder(heading: string): string {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith(heading));
  const code = section?.match(/```ts\n([\s\S]*?)```/)?.[1];
  if (!code) throw new Error(`README has no ts example under "## ${heading}"`);
  return code;
}

it('the README example "Compose in your own stack" compiles against the library', () => {
  const file = path.join(root, 'readme-example.ts');
  const source = exampleUnder('Compose in your own stack');
  const configFile = ts.readConfigFile(path.join(root, 'tsconfig.json'), (file) => ts.sys.readFile(file));
  const { options } = ts.parseJsonConfigFileContent(configFile.config, ts.sys, root);
  const compilerOptions: ts.CompilerOptions = {
    ...options,
    noEmit: true,
    // Users import the package by name; here the name points at this checkout. No baseUrl: with one,
    // the package `constructs` would resolve to this repository's constructs/ folder.
    paths: { 'aep-feature-pipelines/constructs': [path.join(root, 'constructs', 'index.ts')] },
  };
  const host = ts.createCompilerHost(compilerOptions);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => (path.resolve(name) === file ? source : readFile(name));
  host.fileExists = (name) => path.resolve(name) === file || fileExists(name);
  host.getSourceFile = (name, language, ...rest) =>
    path.resolve(name) === file ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest);

  const program = ts.createProgram([file], compilerOptions, host);
  const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName && path.resolve(d.file.fileName) === file);
  const messages = diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  expect(messages).toEqual([]);
  expect(source).toContain("from 'aep-feature-pipelines/constructs'");
});
