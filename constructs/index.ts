export * from './pipeline-bucket';
export * from './aep-access-role';
export * from './aep-credentials-secret';
export * from './alarm-topic';
export * from './pipeline-function';
export * from './stage-schedule';
export * from './aep-provisioning';
export * from './propensity-pipeline';
export { bundleHandler } from './bundling';
