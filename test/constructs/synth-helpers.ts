import { Testing, TerraformOutput, TerraformStack, type App } from 'cdktf';

/** The synthesized Terraform JSON of one stack. */
export interface SynthesizedStack {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  [key: string]: unknown;
}

/** A fresh app and stack; the app's outdir is a new temporary folder. */
export function newStack(): { app: App; stack: TerraformStack } {
  const app = Testing.app();
  return { app, stack: new TerraformStack(app, 'test') };
}

export function synth(stack: TerraformStack): SynthesizedStack {
  return JSON.parse(Testing.synth(stack)) as SynthesizedStack;
}

let probeCount = 0;

/**
 * What a token (for example a construct's `bucketArn`) becomes in the synthesized JSON, such as
 * `${aws_s3_bucket.x.arn}`. Works through a throwaway output, so call it after other assertions on outputs.
 */
export function resolved(stack: TerraformStack, value: unknown): unknown {
  const id = `probe${++probeCount}`;
  new TerraformOutput(stack, id, { value });
  const output = ((synth(stack).output ?? {}) as Record<string, { value: unknown }>)[id];
  if (!output) throw new Error(`output ${id} is not in the stack`);
  return output.value;
}

/** All resources of one type, by logical id (empty when there are none). */
export function resourcesOf(json: SynthesizedStack, type: string): Record<string, Record<string, any>> {
  return (json.resource?.[type] ?? {}) as Record<string, Record<string, any>>;
}

export function dataOf(json: SynthesizedStack, type: string): Record<string, Record<string, any>> {
  return (json.data?.[type] ?? {}) as Record<string, Record<string, any>>;
}

/** The one resource of a type; fails when there are zero or several. */
export function onlyResource(json: SynthesizedStack, type: string): Record<string, any> {
  const all = Object.values(resourcesOf(json, type));
  const [only] = all;
  if (all.length !== 1 || !only) throw new Error(`expected exactly one ${type}, found ${all.length}`);
  return only;
}

/** The logical id of the one resource of a type, as used in `${type.id.attr}` references. */
export function onlyResourceId(json: SynthesizedStack, type: string): string {
  const ids = Object.keys(resourcesOf(json, type));
  const [only] = ids;
  if (ids.length !== 1 || only === undefined) throw new Error(`expected exactly one ${type}, found ${ids.length}`);
  return only;
}

/** A policy statement normalized from either a policy document data source or literal policy JSON. */
export interface NormalizedStatement {
  effect: string;
  actions: string[];
  notActions: string[];
  resources: string[];
  notResources: string[];
  principals: { type: string; identifiers: string[] }[];
  conditions: { test: string; variable: string; values: string[] }[];
  sid?: string;
}

/** One policy found in a stack: where it came from and its statements. */
export interface FoundPolicy {
  /** `data.aws_iam_policy_document.<id>` or `<resource type>.<id>.<attribute>`. */
  address: string;
  statements: NormalizedStatement[];
}

const asArray = (value: unknown): string[] => (value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)]);

function fromDocumentStatement(statement: Record<string, any>): NormalizedStatement {
  return {
    effect: statement.effect ?? 'Allow',
    actions: asArray(statement.actions),
    notActions: asArray(statement.not_actions),
    resources: asArray(statement.resources),
    notResources: asArray(statement.not_resources),
    principals: (statement.principals ?? []).map((p: any) => ({ type: p.type, identifiers: asArray(p.identifiers) })),
    conditions: (statement.condition ?? []).map((c: any) => ({ test: c.test, variable: c.variable, values: asArray(c.values) })),
    sid: statement.sid,
  };
}

function fromJsonStatement(statement: Record<string, any>): NormalizedStatement {
  const principal = statement.Principal;
  const principals =
    principal === undefined
      ? []
      : typeof principal === 'string'
        ? [{ type: 'AWS', identifiers: [principal] }]
        : Object.entries(principal).map(([type, ids]) => ({ type, identifiers: asArray(ids) }));
  const conditions = Object.entries((statement.Condition ?? {}) as Record<string, Record<string, unknown>>).flatMap(
    ([test, byKey]) => Object.entries(byKey).map(([variable, values]) => ({ test, variable, values: asArray(values) })),
  );
  return {
    effect: statement.Effect ?? 'Allow',
    actions: asArray(statement.Action),
    notActions: asArray(statement.NotAction),
    resources: asArray(statement.Resource),
    notResources: asArray(statement.NotResource),
    principals,
    conditions,
    sid: statement.Sid,
  };
}

/** Attributes of resources that hold a policy (as literal JSON or a reference to a document). */
const POLICY_ATTRIBUTES = ['policy', 'assume_role_policy'];

/**
 * Every IAM policy in the stack: each `aws_iam_policy_document` data source, and every policy
 * attribute of a resource (including IAM role inline policies) that holds literal JSON rather than
 * a reference to one of those documents.
 */
export function policiesIn(json: SynthesizedStack): FoundPolicy[] {
  const found: FoundPolicy[] = [];
  for (const [id, doc] of Object.entries(dataOf(json, 'aws_iam_policy_document'))) {
    found.push({
      address: `data.aws_iam_policy_document.${id}`,
      statements: ((doc.statement ?? []) as Record<string, any>[]).map(fromDocumentStatement),
    });
  }
  const literal = (address: string, value: unknown) => {
    if (typeof value !== 'string' || !value.trim().startsWith('{')) return;
    const parsed = JSON.parse(value) as { Statement?: unknown };
    const statements = Array.isArray(parsed.Statement) ? parsed.Statement : parsed.Statement ? [parsed.Statement] : [];
    found.push({ address, statements: (statements as Record<string, any>[]).map(fromJsonStatement) });
  };
  for (const [type, byId] of Object.entries(json.resource ?? {})) {
    for (const [id, resource] of Object.entries(byId)) {
      for (const attribute of POLICY_ATTRIBUTES) literal(`${type}.${id}.${attribute}`, (resource as any)[attribute]);
      for (const [index, inline] of ((resource as any).inline_policy ?? []).entries()) {
        literal(`${type}.${id}.inline_policy[${index}]`, inline.policy);
      }
    }
  }
  return found;
}

/**
 * Actions AWS grants only on all resources (no resource-level permissions), so `*` is the narrowest
 * possible resource for them.
 */
const ACTIONS_WITHOUT_RESOURCE_LEVEL = new Set(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);

/** Documents used as KMS key policies, where Resource "*" means "this key" and nothing else. */
function keyPolicyDocuments(json: SynthesizedStack): Set<string> {
  const ids = new Set<string>();
  for (const key of Object.values(resourcesOf(json, 'aws_kms_key'))) {
    const match = /\$\{data\.aws_iam_policy_document\.([^.}]+)\.json\}/.exec(String(key.policy ?? ''));
    if (match) ids.add(`data.aws_iam_policy_document.${match[1]}`);
  }
  return ids;
}

/**
 * Problems with the stack's IAM: an Allow of `*` or `service:*` actions, NotAction/NotResource in an
 * Allow, a `*` resource where AWS allows narrower, an IAM user or access key. Deny statements may be
 * broad (a broad deny only takes away).
 */
export function leastPrivilegeProblems(json: SynthesizedStack): string[] {
  const problems: string[] = [];
  const keyPolicies = keyPolicyDocuments(json);
  for (const policy of policiesIn(json)) {
    policy.statements.forEach((statement, index) => {
      if (statement.effect !== 'Allow') return;
      const where = `${policy.address} statement ${statement.sid ?? index}`;
      for (const action of statement.actions) {
        if (action === '*' || /^[a-z0-9-]+:\*$/i.test(action)) problems.push(`${where}: allows action ${action}`);
      }
      if (statement.notActions.length > 0) problems.push(`${where}: allows NotAction`);
      if (statement.notResources.length > 0) problems.push(`${where}: allows NotResource`);
      if (statement.resources.includes('*') && !keyPolicies.has(policy.address)) {
        const needsStar = statement.actions.every((a) => ACTIONS_WITHOUT_RESOURCE_LEVEL.has(a));
        if (!needsStar) problems.push(`${where}: allows resource *`);
      }
      for (const principal of statement.principals) {
        if (principal.identifiers.includes('*')) problems.push(`${where}: allows any principal`);
      }
    });
  }
  for (const forbidden of ['aws_iam_user', 'aws_iam_access_key', 'aws_iam_user_policy', 'aws_iam_user_policy_attachment']) {
    if (Object.keys(resourcesOf(json, forbidden)).length > 0) problems.push(`stack creates ${forbidden}`);
  }
  return problems;
}

/** Fails the test with the list of problems, so a regression names the exact statement. */
export function expectLeastPrivilege(json: SynthesizedStack): void {
  expect(leastPrivilegeProblems(json)).toEqual([]);
}

/** The policy document a resource attribute refers to through `${data.aws_iam_policy_document.<id>.json}`. */
export function documentReferencedBy(json: SynthesizedStack, reference: unknown): NormalizedStatement[] {
  const match = /^\$\{data\.aws_iam_policy_document\.([^.}]+)\.json\}$/.exec(String(reference));
  if (!match) throw new Error(`not a policy document reference: ${String(reference)}`);
  const id = match[1]!; // the pattern's one group takes part in every match
  const doc = dataOf(json, 'aws_iam_policy_document')[id];
  if (!doc) throw new Error(`policy document ${id} is not in the stack`);
  return ((doc.statement ?? []) as Record<string, any>[]).map(fromDocumentStatement);
}

/** Every string value anywhere in a JSON tree, with its path. */
export function allStrings(value: unknown, path = '$'): { path: string; value: string }[] {
  if (typeof value === 'string') return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((item, index) => allStrings(item, `${path}[${index}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, item]) => allStrings(item, `${path}.${key}`));
  }
  return [];
}
