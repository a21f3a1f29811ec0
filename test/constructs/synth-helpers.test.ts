import { leastPrivilegeProblems, policiesIn, type SynthesizedStack } from './synth-helpers';

// The least-privilege check guards every construct test, so it must itself catch what it claims to.
describe('leastPrivilegeProblems', () => {
  const documentWith = (statement: Record<string, unknown>): SynthesizedStack => ({
    data: { aws_iam_policy_document: { doc: { statement: [statement] } } },
  });

  it('accepts a narrow Allow and a broad Deny', () => {
    const json: SynthesizedStack = {
      data: {
        aws_iam_policy_document: {
          narrow: { statement: [{ effect: 'Allow', actions: ['s3:GetObject'], resources: ['arn:aws:s3:::b/egress/*'] }] },
          deny: {
            statement: [
              { effect: 'Deny', actions: ['s3:*'], resources: ['*'], principals: [{ type: 'AWS', identifiers: ['*'] }] },
            ],
          },
        },
      },
    };
    expect(leastPrivilegeProblems(json)).toEqual([]);
  });

  it.each([
    ['action *', { actions: ['*'], resources: ['arn:aws:s3:::b'] }, /allows action \*/],
    ['service:*', { actions: ['s3:*'], resources: ['arn:aws:s3:::b'] }, /allows action s3:\*/],
    ['resource *', { actions: ['s3:GetObject'], resources: ['*'] }, /allows resource \*/],
    ['NotAction', { not_actions: ['iam:CreateUser'], resources: ['arn:aws:s3:::b'] }, /NotAction/],
    ['any principal', { actions: ['sts:AssumeRole'], principals: [{ type: 'AWS', identifiers: ['*'] }] }, /any principal/],
  ])('flags an Allow of %s', (_name, statement, message) => {
    const problems = leastPrivilegeProblems(documentWith({ effect: 'Allow', ...statement }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it('flags literal JSON policies on resources and role inline policies', () => {
    const json: SynthesizedStack = {
      resource: {
        aws_sqs_queue: { q: { policy: JSON.stringify({ Statement: { Effect: 'Allow', Action: 'sqs:*', Resource: '*' } }) } },
        aws_iam_role: {
          r: { inline_policy: [{ policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Action: ['*'], Resource: 'x' }] }) }] },
        },
      },
    };
    expect(policiesIn(json).map((p) => p.address)).toEqual(['aws_sqs_queue.q.policy', 'aws_iam_role.r.inline_policy[0]']);
    expect(leastPrivilegeProblems(json)).toHaveLength(3);
  });

  it('flags IAM users and access keys', () => {
    const json: SynthesizedStack = { resource: { aws_iam_user: { u: {} }, aws_iam_access_key: { k: {} } } };
    expect(leastPrivilegeProblems(json)).toEqual(['stack creates aws_iam_user', 'stack creates aws_iam_access_key']);
  });

  it('allows * only where AWS has no resource-level permissions or in a key policy', () => {
    const xray = documentWith({ effect: 'Allow', actions: ['xray:PutTraceSegments'], resources: ['*'] });
    expect(leastPrivilegeProblems(xray)).toEqual([]);
    const keyPolicy: SynthesizedStack = {
      ...documentWith({ effect: 'Allow', actions: ['kms:Decrypt'], resources: ['*'] }),
      resource: { aws_kms_key: { k: { policy: '${data.aws_iam_policy_document.doc.json}' } } },
    };
    expect(leastPrivilegeProblems(keyPolicy)).toEqual([]);
    const keyPolicyWithStarAction: SynthesizedStack = {
      ...documentWith({ effect: 'Allow', actions: ['kms:*'], resources: ['*'] }),
      resource: { aws_kms_key: { k: { policy: '${data.aws_iam_policy_document.doc.json}' } } },
    };
    expect(leastPrivilegeProblems(keyPolicyWithStarAction)).toHaveLength(1);
  });
});
