/**
 * Error bodies, one shape per AEP service (the OpenAPI files in aep-openapi/ and AEP's behaviour):
 *
 * - gateway (Adobe I/O gateway, before any service): `{ error_code, message }`
 * - IMS: `{ error, error_description }`
 * - Schema Registry: `errorBasic` — `{ type, title, status, report: { registryRequestId, timestamp,
 *   detailed-message, sub-errors }, detail }`
 * - Catalog and Batch Ingestion (no error schema in their specs): Platform's RFC 7807 problem details
 *   `{ type, title, status, detail }` with the service's error-type prefix
 * - Query Service: `{ message, statusCode }`
 * - Flow Service: RFC 7807 problem details with the `FLOW` prefix (destinations.yaml types its errors
 *   as any object)
 * - Ad hoc activation: the same problem details plus `message`, the one field ad-hoc-activation.yaml
 *   documents for its errors
 * - Segmentation (no error schema in segmentation.yaml): Platform's problem details with the `UPS`
 *   prefix of the Profile service it belongs to
 * - Data Prep: problem details with the `DATAPREP` prefix (data-prep.yaml gives its errors no body)
 */
import { randomUUID } from 'crypto';
import { ApiError, ErrorFactory } from './http';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function statusTitle(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}

export function gatewayError(status: number, errorCode: string, message: string, headers?: Record<string, string>): ApiError {
  return new ApiError(status, { error_code: errorCode, message }, headers);
}

export function imsError(status: number, error: string, description: string): ApiError {
  return new ApiError(status, { error, error_description: description });
}

/** Timestamp in the registry's report format, e.g. `11-25-2020 07:56:25`. */
function registryTimestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/** Schema Registry error (`errorBasic`); `code` is the XDM error number, e.g. '1012'. */
export function xdmError(status: number, message: string, code = '1000', title?: string): ApiError {
  return new ApiError(status, {
    type: `http://ns.adobe.com/aep/errors/XDM-${code}-${status}`,
    title: title ?? statusTitle(status),
    status,
    report: {
      registryRequestId: randomUUID(),
      timestamp: registryTimestamp(),
      'detailed-message': message,
      'sub-errors': [],
    },
    detail: message,
  });
}

function problem(prefix: string, status: number, message: string, code: string): ApiError {
  return new ApiError(status, {
    type: `http://ns.adobe.com/aep/errors/${prefix}-${code}-${status}`,
    title: statusTitle(status),
    status,
    detail: message,
  });
}

export const catalogError: ErrorFactory = (status, message, code = '1000') => problem('CAT', status, message, code);
export const ingestError: ErrorFactory = (status, message, code = '1000') => problem('INGEST', status, message, code);
export const queryError: ErrorFactory = (status, message) => new ApiError(status, { message, statusCode: status });
export const schemaRegistryError: ErrorFactory = (status, message, code) => xdmError(status, message, code);


export const flowServiceError: ErrorFactory = (status, message, code = '1000') => problem('FLOW', status, message, code);
export const dataPrepError: ErrorFactory = (status, message, code = '1000') => problem('DATAPREP', status, message, code);
export const activationError: ErrorFactory = (status, message, code = '1000') => {
  const e = problem('ACTIVATION', status, message, code);
  return new ApiError(status, { ...(e.body as Record<string, unknown>), message });
};
export const segmentationError: ErrorFactory = (status, message, code = '1000') => problem('UPS', status, message, code);
