/**
 * The embedded platform's AEP stand-in. See server.ts.
 */
export { AepStandIn, type AepStandInOptions, type ExchangeListener, type RecordedExchange } from './server';
export { FaultInjector, type FaultSpec } from './faults';
export { DEFAULT_SCOPE } from './ims';
export { BATCH_ERROR } from './xdm-tables';
