import { version } from '../package.json';

/** This library's version, recorded with what it produces (a registered model's `codeVersion`). */
export const LIBRARY_VERSION: string = version;
