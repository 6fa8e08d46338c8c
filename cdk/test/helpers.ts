import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';
import { buildApp, BuildOptions } from '../lib/app';
import { TicketingStack } from '../lib/ticketing-stack';

export interface Synth {
  readonly stack: TicketingStack;
  readonly template: Template;
  /** The template as plain JSON. */
  readonly json: CfnTemplate;
  /** The cloud assembly directory (assets are staged there). */
  readonly outdir: string;
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, any>;
  DependsOn?: string | string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Metadata?: Record<string, any>;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown }>;
  Parameters?: Record<string, unknown>;
  Rules?: Record<string, unknown>;
}

const tempDirs: string[] = [];
// Each synth stages ~20 MB of assets (the BucketDeployment's AWS CLI layer): remove them when
// the test process ends, unless KEEP_SYNTH=1 (to look at a failing template).
process.on('exit', () => {
  if (process.env.KEEP_SYNTH === '1') return;
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ticketing-cdk-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

/** The app in skip-build mode (placeholder Lambdas), without cdk-nag: for template assertions. */
export function synthSkipBuild(options: BuildOptions = {}): Synth {
  const outdir = options.outdir ?? tempDir('synth');
  const { stack } = buildApp({
    nag: false,
    ...options,
    outdir,
    context: { skipBuild: 'true', ...(options.context ?? {}) },
  });
  const template = Template.fromStack(stack);
  return { stack, template, json: template.toJSON() as CfnTemplate, outdir };
}

export function logicalId(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(construct).resolve(element.logicalId) as string;
}

export function resourcesOfType(json: CfnTemplate, type: string): Array<[string, CfnResource]> {
  return Object.entries(json.Resources).filter(([, resource]) => resource.Type === type);
}

/**
 * An intrinsic as readable text: `{"Fn::GetAtt": ["X", "Arn"]}` → `${X.Arn}`, `{"Ref": "X"}` →
 * `${X}`, `Fn::Join` concatenated. Enough to compare ARNs and find wildcards.
 */
export function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(render).join(',');
  if (value && typeof value === 'object') {
    const object = value as Record<string, any>;
    if ('Ref' in object) return `\${${object.Ref}}`;
    if ('Fn::GetAtt' in object) return `\${${object['Fn::GetAtt'].join('.')}}`;
    if ('Fn::Join' in object) return (object['Fn::Join'][1] as unknown[]).map(render).join(object['Fn::Join'][0]);
    if ('Fn::Sub' in object) return String(object['Fn::Sub']);
    if ('Fn::Select' in object) return `\${Select(${JSON.stringify(object['Fn::Select'])})}`;
  }
  return JSON.stringify(value);
}

export interface Statement {
  readonly owner: string;
  readonly roles: string[];
  readonly actions: string[];
  readonly resources: string[];
  readonly raw: Record<string, any>;
}

const asList = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Every Allow statement of every IAM policy (AWS::IAM::Policy and role inline policies). */
export function allowStatements(json: CfnTemplate): Statement[] {
  const statements: Statement[] = [];
  const add = (owner: string, roles: string[], document: any) => {
    for (const raw of asList<any>(document?.Statement)) {
      if (raw.Effect !== 'Allow') continue;
      statements.push({
        owner,
        roles,
        actions: asList<string>(raw.Action),
        resources: asList<unknown>(raw.Resource).map(render),
        raw,
      });
    }
  };
  for (const [id, resource] of Object.entries(json.Resources)) {
    if (resource.Type === 'AWS::IAM::Policy') {
      add(id, asList<any>(resource.Properties?.Roles).map((role) => role.Ref), resource.Properties?.PolicyDocument);
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of asList<any>(resource.Properties?.Policies)) add(id, [id], policy.PolicyDocument);
    }
  }
  return statements;
}
