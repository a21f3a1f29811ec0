export * from './band';
export * from './summary';
